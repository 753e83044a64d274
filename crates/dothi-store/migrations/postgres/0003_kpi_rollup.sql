-- The IOC's figures per local day of receipt (Asia/Ho_Chi_Minh, +07:00) and dashboard filter:
-- agency, commune, category, channel. The reports service keeps it in step with `reports` in
-- the transaction of every change (see crates/dothi-store/src/kpi.rs), so the KPIs, the trend
-- and the ranking read this table (about 120,000 rows for a million reports over six months)
-- instead of every report. Keep in step with ../sqlite/0003_kpi_rollup.sql.
--
-- day: (created_at + 7 h) / 1 day, in whole days since 1970-01-01 (local).
-- agency_id 0 and commune_code '' stand for "none" (NULL would defeat the primary key).
-- handling_ms: working time from receipt to resolution in milliseconds (handling_days ×
-- 86,400,000, rounded), summed as an integer so that adding and taking away never drifts;
-- handling_count counts the reports that have a handling time.
CREATE TABLE kpi_daily (
    day BIGINT NOT NULL,
    agency_id BIGINT NOT NULL,
    commune_code TEXT NOT NULL,
    category_id BIGINT NOT NULL,
    channel TEXT NOT NULL,
    received BIGINT NOT NULL DEFAULT 0,
    handled BIGINT NOT NULL DEFAULT 0,
    handled_on_time BIGINT NOT NULL DEFAULT 0,
    handling_count BIGINT NOT NULL DEFAULT 0,
    handling_ms BIGINT NOT NULL DEFAULT 0,
    rated BIGINT NOT NULL DEFAULT 0,
    satisfied BIGINT NOT NULL DEFAULT 0,
    acceptable BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (day, agency_id, commune_code, category_id, channel)
);

INSERT INTO kpi_daily (day, agency_id, commune_code, category_id, channel, received, handled,
    handled_on_time, handling_count, handling_ms, rated, satisfied, acceptable)
SELECT (created_at + 25200000) / 86400000, COALESCE(agency_id, 0), COALESCE(commune_code, ''),
    category_id, channel,
    COUNT(*),
    SUM(CASE WHEN resolved_at IS NOT NULL THEN 1 ELSE 0 END),
    SUM(CASE WHEN resolved_on_time = 1 THEN 1 ELSE 0 END),
    COUNT(handling_days),
    COALESCE(SUM(CAST(FLOOR(handling_days * 86400000 + 0.5) AS BIGINT)), 0),
    SUM(CASE WHEN rating IS NOT NULL THEN 1 ELSE 0 END),
    SUM(CASE WHEN rating = 'satisfied' THEN 1 ELSE 0 END),
    SUM(CASE WHEN rating = 'acceptable' THEN 1 ELSE 0 END)
FROM reports
GROUP BY 1, 2, 3, 4, 5;

-- "Overdue now" (open reports past their deadline, with the dashboard's filters) reads only
-- this small covering index of open reports, whatever the filter.
CREATE INDEX reports_open_deadline ON reports (status, deadline_at, agency_id, category_id, commune_code, channel)
    WHERE status IN ('received', 'assigned', 'in_progress', 'transferred', 'reopened');
