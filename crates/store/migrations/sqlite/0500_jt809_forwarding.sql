-- How far each upper platform (JT/T 809) has been sent this store's points: the latest receive time (Unix
-- ms) of the points forwarded to it. Points received later are what its link still owes, after a restart
-- or an outage alike.
CREATE TABLE jt809_forwarding (
    upper           TEXT    PRIMARY KEY,
    received_up_to  INTEGER NOT NULL,
    saved_ms        INTEGER NOT NULL
);
