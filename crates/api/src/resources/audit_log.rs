//! `GET /api/audit`: the tamper-evident audit log, for administrators (what is written to it is
//! the `audit` module).

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use tianshu_store::access::AuditRecord;

use crate::ApiState;
use crate::error::ApiResult;
use crate::extract::Query;

/// `GET /api/audit` query.
#[derive(Debug, Deserialize)]
pub struct AuditQuery {
    /// Records after this sequence number (default 0).
    pub after: Option<i64>,
    /// At most this many (default 500, at most 10000).
    pub limit: Option<u32>,
    /// Instead of `after`: the newest this many (at most 10000), oldest first.
    pub last: Option<u32>,
}

/// `GET /api/audit?after=&limit=`: the records after a sequence number, oldest first; `?last=N`: the newest
/// N, oldest first.
pub async fn list(
    State(state): State<ApiState>,
    Query(q): Query<AuditQuery>,
) -> ApiResult<Json<Vec<AuditRecord>>> {
    let access = state.store().access();
    let list = match q.last {
        Some(n) => access.audit_newest(n.min(10_000)).await?,
        None => {
            access
                .audit(q.after.unwrap_or(0), q.limit.unwrap_or(500).min(10_000))
                .await?
        }
    };
    Ok(Json(list))
}
