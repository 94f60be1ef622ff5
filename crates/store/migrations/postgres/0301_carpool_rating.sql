-- The requester's rating of a settled trip (1 to 5 stars and a note, as JSON); the assigned trips the
-- runtime looks at for settlement found by their state; a notification may be about a car request (its
-- assignment told to the requester and the driver) instead of a case or a complaint.
ALTER TABLE carpool_requests ADD COLUMN rating TEXT;
CREATE INDEX carpool_requests_state ON carpool_requests (state, start_ms);
ALTER TABLE alert_outbox ADD COLUMN carpool_request_id BIGINT REFERENCES carpool_requests (id);
CREATE INDEX alert_outbox_carpool_request ON alert_outbox (carpool_request_id);
