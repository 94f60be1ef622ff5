-- A car's China day summarised (tianshu_rules::summary::DaySummary): what the yearly figures read instead
-- of every point again. One row per car and day, replaced when the day is summarised again; `cases` is the
-- day's cases opened on the car by rule, as a JSON object.
CREATE TABLE daily_summaries (
    vehicle_id BIGINT NOT NULL,
    day BIGINT NOT NULL,
    metres BIGINT NOT NULL,
    online_secs BIGINT NOT NULL,
    points BIGINT NOT NULL,
    trips BIGINT NOT NULL,
    cases TEXT NOT NULL,
    PRIMARY KEY (vehicle_id, day)
);
CREATE INDEX daily_summaries_day ON daily_summaries (day);
