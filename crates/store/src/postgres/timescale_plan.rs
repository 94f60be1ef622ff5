//! What TimescaleDB is to be told at open, decided from its catalogue's rows and the configuration, without
//! I/O: which policy jobs to keep, add, replace or remove, whether the compression settings or the chunk
//! interval differ, whether the installed release is recent enough, and what a job's statistics say of its
//! health. `timescale.rs` reads the rows and carries the decisions out.

use serde::{Deserialize, Serialize};

/// The oldest TimescaleDB release Tianshu runs on: 2.13 brought the `create_hypertable` interface with
/// `by_range` and changing compression settings of a hypertable with compressed chunks came in 2.14; below
/// 2.13 the catalogue views read here differ.
pub const MIN_TIMESCALEDB: (u32, u32, u32) = (2, 13, 0);

/// Whether `extversion` (`2.17.2`, `2.14.0-dev`) is at least [`MIN_TIMESCALEDB`]; the refusal names the fix.
pub(crate) fn check_version(extversion: &str) -> Result<(), String> {
    let mut parts = extversion
        .split(|c: char| !c.is_ascii_digit())
        .map(|p| p.parse::<u32>().ok());
    let version = (
        parts.next().flatten(),
        parts.next().flatten(),
        parts.next().flatten().or(Some(0)),
    );
    let (Some(major), Some(minor), Some(patch)) = version else {
        return Err(format!(
            "TimescaleDB reports version {extversion:?}, which Tianshu cannot read"
        ));
    };
    if (major, minor, patch) >= MIN_TIMESCALEDB {
        return Ok(());
    }
    let (a, b, c) = MIN_TIMESCALEDB;
    Err(format!(
        "TimescaleDB {extversion} is older than {a}.{b}.{c}, the oldest Tianshu runs on: install a newer \
         release and run `ALTER EXTENSION timescaledb UPDATE` in this database"
    ))
}

/// A policy Tianshu manages on `points`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PolicyKind {
    /// `add_compression_policy`, from `compress_after_days`.
    Compression,
    /// `add_retention_policy`, from `retain_days`.
    Retention,
}

impl PolicyKind {
    /// Both, in the order they are reconciled.
    pub(crate) const ALL: [PolicyKind; 2] = [PolicyKind::Compression, PolicyKind::Retention];

    /// The job's procedure in `timescaledb_information.jobs.proc_name`.
    pub(crate) fn proc_name(self) -> &'static str {
        match self {
            PolicyKind::Compression => "policy_compression",
            PolicyKind::Retention => "policy_retention",
        }
    }

    /// The kind of a job's procedure, if it is one of these.
    pub(crate) fn of_proc(proc_name: &str) -> Option<PolicyKind> {
        PolicyKind::ALL.into_iter().find(|k| k.proc_name() == proc_name)
    }

    /// The label of the job in metrics and `/readyz`.
    pub fn label(self) -> &'static str {
        match self {
            PolicyKind::Compression => "compression",
            PolicyKind::Retention => "retention",
        }
    }

    /// The configuration key (`[store.postgres]`) that sets it.
    pub(crate) fn key(self) -> &'static str {
        match self {
            PolicyKind::Compression => "compress_after_days",
            PolicyKind::Retention => "retain_days",
        }
    }
}

/// A policy job of `points` as `timescaledb_information.jobs` lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PolicyJob {
    /// `job_id`.
    pub job_id: i32,
    /// From `proc_name`.
    pub kind: PolicyKind,
    /// Its `compress_after` or `drop_after` in seconds (`None` when the job is set some other way, such as
    /// `compress_created_before`).
    pub after_secs: Option<i64>,
}

/// What to do with one kind of policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PolicyAction {
    /// The job is as configured.
    Keep { kind: PolicyKind, days: u32 },
    /// No job yet: add one.
    Add { kind: PolicyKind, days: u32 },
    /// The job's age differs from the configuration (or there is more than one): remove it, add one anew.
    Replace {
        kind: PolicyKind,
        job_id: i32,
        days: u32,
    },
    /// The key is unset: the job goes.
    Remove { kind: PolicyKind, job_id: i32 },
}

/// The actions that bring `jobs` to the configuration: `days(kind)` is the configured age of each kind.
pub(crate) fn plan_policies(
    jobs: &[PolicyJob],
    days: impl Fn(PolicyKind) -> Option<u32>,
) -> Vec<PolicyAction> {
    let mut out = Vec::new();
    for kind in PolicyKind::ALL {
        let mine: Vec<&PolicyJob> = jobs.iter().filter(|j| j.kind == kind).collect();
        let action = match (days(kind), mine.as_slice()) {
            (None, []) => continue,
            (None, [first, ..]) => PolicyAction::Remove {
                kind,
                job_id: first.job_id,
            },
            (Some(days), []) => PolicyAction::Add { kind, days },
            (Some(days), [one]) if one.after_secs == Some(i64::from(days) * 86_400) => {
                PolicyAction::Keep { kind, days }
            }
            (Some(days), [first, ..]) => PolicyAction::Replace {
                kind,
                job_id: first.job_id,
                days,
            },
        };
        out.push(action);
    }
    out
}

/// A row of `timescaledb_information.compression_settings` for `points`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CompressionColumn {
    /// `attname`.
    pub column: String,
    /// `segmentby_column_index` (1-based).
    pub segmentby_index: Option<i32>,
    /// `orderby_column_index` (1-based).
    pub orderby_index: Option<i32>,
    /// `orderby_asc`.
    pub orderby_asc: Option<bool>,
}

/// Segments of compressed chunks: one vehicle's points together, so a replay decompresses its own only.
pub(crate) const SEGMENT_BY: &[&str] = &["vehicle"];
/// Order inside a segment (ascending): the track order, the key's.
pub(crate) const ORDER_BY: &[&str] = &["fix_time", "block_hash"];

/// Whether the compression settings the catalogue lists differ from [`SEGMENT_BY`] and [`ORDER_BY`]
/// (none listed: compression is not enabled yet).
pub(crate) fn compression_differs(rows: &[CompressionColumn]) -> bool {
    let listed = |index: fn(&CompressionColumn) -> Option<i32>| -> Vec<&CompressionColumn> {
        let mut cols: Vec<&CompressionColumn> = rows.iter().filter(|r| index(r).is_some()).collect();
        cols.sort_by_key(|r| index(r));
        cols
    };
    let segment: Vec<&str> = listed(|r| r.segmentby_index)
        .iter()
        .map(|r| r.column.as_str())
        .collect();
    let order = listed(|r| r.orderby_index);
    let order_ok = order.len() == ORDER_BY.len()
        && order
            .iter()
            .zip(ORDER_BY)
            .all(|(r, want)| r.column == *want && r.orderby_asc != Some(false));
    segment != SEGMENT_BY || !order_ok
}

/// Whether the chunk interval TimescaleDB lists (seconds; `None` when it lists none) differs from
/// `chunk_days`.
pub(crate) fn chunk_interval_differs(current_secs: Option<i64>, chunk_days: u32) -> bool {
    current_secs != Some(i64::from(chunk_days) * 86_400)
}

/// The health of one policy job, from `timescaledb_information.job_stats` and `job_errors`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobHealth {
    /// Which policy.
    pub kind: PolicyKind,
    /// TimescaleDB's job id.
    pub job_id: i32,
    /// When its last run started (Unix ms), if it ran.
    pub last_run_ms: Option<i64>,
    /// When its last successful run finished (Unix ms), if one did.
    pub last_success_ms: Option<i64>,
    /// Failed runs since the last success (all of them when none succeeded), as `job_errors` still holds them.
    pub consecutive_failures: u64,
}

impl JobHealth {
    /// One line for `/readyz`.
    pub fn describe(&self) -> String {
        let at = |ms: Option<i64>| {
            ms.and_then(chrono::DateTime::from_timestamp_millis)
                .map_or("never".to_string(), |t| {
                    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
                })
        };
        format!(
            "timescaledb {} job {}: last run {}, last success {}, {} consecutive failures",
            self.kind.label(),
            self.job_id,
            at(self.last_run_ms),
            at(self.last_success_ms),
            self.consecutive_failures
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(job_id: i32, kind: PolicyKind, days: i64) -> PolicyJob {
        PolicyJob {
            job_id,
            kind,
            after_secs: Some(days * 86_400),
        }
    }

    fn config(compress: Option<u32>, retain: Option<u32>) -> impl Fn(PolicyKind) -> Option<u32> {
        move |k| match k {
            PolicyKind::Compression => compress,
            PolicyKind::Retention => retain,
        }
    }

    #[test]
    fn jobs_as_configured_are_kept() {
        let jobs = [
            job(1000, PolicyKind::Compression, 2),
            job(1001, PolicyKind::Retention, 1095),
        ];
        assert_eq!(
            plan_policies(&jobs, config(Some(2), Some(1095))),
            [
                PolicyAction::Keep {
                    kind: PolicyKind::Compression,
                    days: 2
                },
                PolicyAction::Keep {
                    kind: PolicyKind::Retention,
                    days: 1095
                }
            ]
        );
    }

    #[test]
    fn a_changed_age_replaces_the_job_and_an_unset_key_removes_it() {
        let jobs = [
            job(1000, PolicyKind::Compression, 7),
            job(1001, PolicyKind::Retention, 1095),
        ];
        assert_eq!(
            plan_policies(&jobs, config(Some(2), None)),
            [
                PolicyAction::Replace {
                    kind: PolicyKind::Compression,
                    job_id: 1000,
                    days: 2
                },
                PolicyAction::Remove {
                    kind: PolicyKind::Retention,
                    job_id: 1001
                }
            ]
        );
    }

    #[test]
    fn missing_jobs_are_added_and_odd_ones_replaced() {
        assert_eq!(
            plan_policies(&[], config(Some(2), Some(30))),
            [
                PolicyAction::Add {
                    kind: PolicyKind::Compression,
                    days: 2
                },
                PolicyAction::Add {
                    kind: PolicyKind::Retention,
                    days: 30
                }
            ]
        );
        assert!(plan_policies(&[], config(None, None)).is_empty());
        // Set some other way (compress_created_before), or twice: replaced by the configured one.
        let odd = [PolicyJob {
            job_id: 5,
            kind: PolicyKind::Compression,
            after_secs: None,
        }];
        let twice = [
            job(5, PolicyKind::Compression, 2),
            job(6, PolicyKind::Compression, 2),
        ];
        for jobs in [&odd[..], &twice[..]] {
            assert_eq!(
                plan_policies(jobs, config(Some(2), None)),
                [PolicyAction::Replace {
                    kind: PolicyKind::Compression,
                    job_id: 5,
                    days: 2
                }]
            );
        }
    }

    fn column(name: &str, segment: Option<i32>, order: Option<i32>, asc: Option<bool>) -> CompressionColumn {
        CompressionColumn {
            column: name.into(),
            segmentby_index: segment,
            orderby_index: order,
            orderby_asc: asc,
        }
    }

    #[test]
    fn compression_settings_are_changed_only_when_they_differ() {
        let same = [
            column("block_hash", None, Some(2), Some(true)),
            column("vehicle", Some(1), None, None),
            column("fix_time", None, Some(1), Some(true)),
        ];
        assert!(!compression_differs(&same));
        assert!(compression_differs(&[]), "not enabled yet");
        let descending = [
            column("vehicle", Some(1), None, None),
            column("fix_time", None, Some(1), Some(false)),
            column("block_hash", None, Some(2), Some(true)),
        ];
        assert!(compression_differs(&descending));
        let time_only = [
            column("vehicle", Some(1), None, None),
            column("fix_time", None, Some(1), Some(true)),
        ];
        assert!(compression_differs(&time_only));
        let unsegmented = [
            column("fix_time", None, Some(1), Some(true)),
            column("block_hash", None, Some(2), Some(true)),
        ];
        assert!(compression_differs(&unsegmented));
    }

    #[test]
    fn chunk_interval_and_version() {
        assert!(!chunk_interval_differs(Some(7 * 86_400), 7));
        assert!(chunk_interval_differs(Some(86_400), 7));
        assert!(chunk_interval_differs(None, 7));
        for ok in ["2.13.0", "2.14.2", "2.28.1", "3.0.0", "2.17.0-dev"] {
            assert_eq!(check_version(ok), Ok(()), "{ok}");
        }
        for old in ["2.12.2", "2.9.3", "1.7.5"] {
            let refusal = check_version(old).unwrap_err();
            assert!(
                refusal.contains("2.13.0") && refusal.contains("ALTER EXTENSION timescaledb UPDATE"),
                "{refusal}"
            );
        }
        assert!(check_version("x").is_err());
    }

    #[test]
    fn a_job_health_line_says_when_and_how_often() {
        let h = JobHealth {
            kind: PolicyKind::Compression,
            job_id: 1000,
            last_run_ms: Some(1_796_000_000_000),
            last_success_ms: None,
            consecutive_failures: 3,
        };
        assert_eq!(
            h.describe(),
            "timescaledb compression job 1000: last run 2026-11-30T00:53:20Z, last success never, 3 consecutive failures"
        );
    }
}
