-- Working days from receipt to resolution, computed with the Vietnamese calendar when a report
-- is resolved, so the IOC's average handling time is a plain AVG. Keep in step with
-- ../sqlite/0002_handling_days.sql.
ALTER TABLE reports ADD COLUMN handling_days DOUBLE PRECISION;
CREATE INDEX reports_agency_created ON reports (agency_id, created_at);
