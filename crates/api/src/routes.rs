//! The route table: every route, its method, the roles that may call it, and what it does. The
//! router, the OpenAPI document and the permission-matrix test are all generated from it.

use axum::Router;
use axum::routing::{MethodRouter, delete, get, post};
use tianshu_store::access::Role;

use crate::{ApiState, auth, handlers, live, openapi, web};

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

const ALL: &[Role] = &[
    Role::Administrator,
    Role::Dispatcher,
    Role::Inspector,
    Role::Supervisor,
];
const ADMIN: &[Role] = &[Role::Administrator];
/// Who may look at tracks: not dispatchers, whose job is the live picture.
const TRACKS: &[Role] = &[Role::Administrator, Role::Inspector, Role::Supervisor];
const OPERATE: &[Role] = &[Role::Administrator, Role::Dispatcher];
const CASES: &[Role] = &[Role::Administrator, Role::Inspector, Role::Supervisor];
const PUBLIC: &[Role] = &[];

/// Every route of the API.
pub static ROUTES: &[RouteSpec] = &[
    RouteSpec {
        method: "POST",
        path: "/api/session",
        roles: PUBLIC,
        summary: "Log in: sets the HttpOnly session cookie",
        handler: || post(auth::login),
    },
    RouteSpec {
        method: "DELETE",
        path: "/api/session",
        roles: PUBLIC,
        summary: "Log out",
        handler: || delete(auth::logout),
    },
    RouteSpec {
        method: "GET",
        path: "/api/me",
        roles: ALL,
        summary: "The logged-in user",
        handler: || get(auth::me),
    },
    RouteSpec {
        method: "GET",
        path: "/api/config",
        roles: ALL,
        summary: "Basemap settings for the page",
        handler: || get(handlers::page_config),
    },
    RouteSpec {
        method: "GET",
        path: "/api/geofences",
        roles: ALL,
        summary: "Region, depot and zone outlines for the basemap (GeoJSON)",
        handler: || get(handlers::geofences),
    },
    RouteSpec {
        method: "GET",
        path: "/api/units",
        roles: ALL,
        summary: "Units in scope",
        handler: || get(handlers::units),
    },
    RouteSpec {
        method: "GET",
        path: "/api/vehicles",
        roles: ALL,
        summary: "Vehicles in scope",
        handler: || get(handlers::vehicles),
    },
    RouteSpec {
        method: "GET",
        path: "/api/vehicles/{id}",
        roles: ALL,
        summary: "One vehicle with its latest position",
        handler: || get(handlers::vehicle),
    },
    RouteSpec {
        method: "GET",
        path: "/api/vehicles/{id}/track",
        roles: TRACKS,
        summary: "Track export: format=geojson|gpx|kml|csv, from, to (audited)",
        handler: || get(handlers::track_export),
    },
    RouteSpec {
        method: "GET",
        path: "/api/vehicles/{id}/replay",
        roles: TRACKS,
        summary: "Replay: simplified track, stops, trips, cases (audited)",
        handler: || get(handlers::replay),
    },
    RouteSpec {
        method: "GET",
        path: "/api/vehicles/{id}/report",
        roles: TRACKS,
        summary: "Monthly report of one car: month=YYYY-MM; mileage, trips, time in use, violations (audited)",
        handler: || get(handlers::monthly_report),
    },
    RouteSpec {
        method: "POST",
        path: "/api/vehicles/{id}/commands",
        roles: OPERATE,
        summary: "Downlink command to the vehicle's terminal (audited)",
        handler: || post(handlers::command),
    },
    RouteSpec {
        method: "GET",
        path: "/api/terminals",
        roles: OPERATE,
        summary: "Terminals",
        handler: || get(handlers::terminals),
    },
    RouteSpec {
        method: "GET",
        path: "/api/positions/latest",
        roles: ALL,
        summary: "Latest position of every vehicle in scope",
        handler: || get(handlers::latest),
    },
    RouteSpec {
        method: "GET",
        path: "/api/positions",
        roles: TRACKS,
        summary: "Stored points of a vehicle: plate or vehicle, from, to (audited)",
        handler: || get(handlers::positions),
    },
    RouteSpec {
        method: "GET",
        path: "/api/live",
        roles: ALL,
        summary: "WebSocket live feed: snapshot, then position and alert deltas",
        handler: || get(live::live),
    },
    RouteSpec {
        method: "GET",
        path: "/api/cases",
        roles: CASES,
        summary: "Alert cases in scope: state, vehicle, limit",
        handler: || get(handlers::cases),
    },
    RouteSpec {
        method: "GET",
        path: "/api/cases/{id}",
        roles: CASES,
        summary: "One alert case with its reasoning",
        handler: || get(handlers::case),
    },
    RouteSpec {
        method: "POST",
        path: "/api/cases/{id}/actions",
        roles: CASES,
        summary: "Acknowledge, explain, close or escalate a case (audited)",
        handler: || post(handlers::case_action),
    },
    RouteSpec {
        method: "GET",
        path: "/api/users",
        roles: ADMIN,
        summary: "Users",
        handler: || get(handlers::users),
    },
    RouteSpec {
        method: "POST",
        path: "/api/users",
        roles: ADMIN,
        summary: "Create a user (audited)",
        handler: || post(handlers::create_user),
    },
    RouteSpec {
        method: "DELETE",
        path: "/api/users/{username}",
        roles: ADMIN,
        summary: "Delete a user (audited)",
        handler: || delete(handlers::delete_user),
    },
    RouteSpec {
        method: "GET",
        path: "/api/audit",
        roles: ADMIN,
        summary: "The tamper-evident audit log: after, limit",
        handler: || get(handlers::audit_log),
    },
    RouteSpec {
        method: "GET",
        path: "/api/openapi.json",
        roles: PUBLIC,
        summary: "This API's OpenAPI document",
        handler: || get(openapi::openapi),
    },
];

/// Operational routes (`/healthz`, `/readyz`, `/metrics`), separate so that a server that already
/// serves them can leave them out.
pub fn ops_router(state: ApiState) -> Router {
    Router::new()
        .route("/healthz", get(handlers::healthz))
        .route("/readyz", get(handlers::readyz))
        .route("/metrics", get(handlers::metrics))
        .with_state(state)
}

/// The API and the page, built from [`ROUTES`]; every non-public route sits behind the role gate.
pub fn router(state: ApiState) -> Router {
    let mut r: Router<ApiState> = Router::new();
    for spec in ROUTES {
        let mut mr = (spec.handler)();
        if !spec.roles.is_empty() {
            mr = mr.route_layer(axum::middleware::from_fn_with_state(
                auth::Gate {
                    state: state.clone(),
                    roles: spec.roles,
                },
                auth::gate,
            ));
        }
        r = r.route(spec.path, mr);
    }
    r.merge(web::router()).with_state(state)
}
