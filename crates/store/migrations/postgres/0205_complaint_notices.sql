-- A notification may be about a complaint (forwarded to a unit, sent back, escalated for being overdue)
-- instead of an alert case: the outbox row names one or the other.
ALTER TABLE alert_outbox ALTER COLUMN case_id DROP NOT NULL;
ALTER TABLE alert_outbox ADD COLUMN complaint_id BIGINT REFERENCES complaints (id);
CREATE INDEX alert_outbox_complaint ON alert_outbox (complaint_id);
