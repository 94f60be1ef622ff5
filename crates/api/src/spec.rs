//! What a route is: its method, its path, the roles it admits, a one-line summary and its handler.
//! The table of every route is `routes::ROUTES`; the router, the OpenAPI document and the
//! permission-matrix test all read it.

use axum::routing::MethodRouter;
use tianshu_store::access::Role;

use crate::ApiState;

/// One route.
pub struct RouteSpec {
    /// HTTP method.
    pub method: &'static str,
    /// Path template (axum syntax, `{id}` for a parameter).
    pub path: &'static str,
    /// Roles admitted; empty means public (no session needed).
    pub roles: &'static [Role],
    /// One line for the OpenAPI document.
    pub summary: &'static str,
    /// Builds the handler.
    pub handler: fn() -> MethodRouter<ApiState>,
}

/// Every role.
pub const ALL: &[Role] = &[
    Role::Administrator,
    Role::Dispatcher,
    Role::Inspector,
    Role::Supervisor,
    Role::Requester,
];
/// Administrators only: reference data, users, the audit log.
pub const ADMIN: &[Role] = &[Role::Administrator];
/// Who may look at tracks: not dispatchers, whose job is the live picture.
pub const TRACKS: &[Role] = &[Role::Administrator, Role::Inspector, Role::Supervisor];
/// Who operates the fleet: orders, terminals, downlink commands.
pub const OPERATE: &[Role] = &[Role::Administrator, Role::Dispatcher];
/// Who handles alert cases.
pub const CASES: &[Role] = &[Role::Administrator, Role::Inspector, Role::Supervisor];
/// No session needed.
pub const PUBLIC: &[Role] = &[];
/// Who enters complaints: the office's desk and inspectors.
pub const DESK: &[Role] = &[Role::Administrator, Role::Dispatcher, Role::Inspector];
/// Who records findings: inspectors.
pub const INSPECT: &[Role] = &[Role::Administrator, Role::Inspector];
/// Who asks the office's pool for a car: a unit's requesters and supervisors (an administrator too).
pub const REQUEST: &[Role] = &[Role::Administrator, Role::Supervisor, Role::Requester];
/// Who answers a forwarded complaint: the unit's supervisors (an administrator too).
pub const ANSWER: &[Role] = &[Role::Administrator, Role::Supervisor];
