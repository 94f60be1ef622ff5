//! The route table: every route, its method, the roles that may call it, and what it does. The
//! router, the OpenAPI document and the permission-matrix test are all generated from it.

use axum::Router;
use axum::routing::{MethodRouter, delete, get, patch, post, put};
use tianshu_store::access::Role;

use crate::{ApiState, admin, auth, handlers, live, openapi, trips, web};

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
        summary: "Geofences (regions, depots, prohibited places, speed zones) as GeoJSON, each feature with its id",
        handler: || get(admin::geofences),
    },
    RouteSpec {
        method: "POST",
        path: "/api/geofences",
        roles: ADMIN,
        summary: "Create a geofence: one GeoJSON Feature in the `geofence import` format (audited)",
        handler: || post(admin::create_geofence),
    },
    RouteSpec {
        method: "PUT",
        path: "/api/geofences/{id}",
        roles: ADMIN,
        summary: "Replace a geofence with one GeoJSON Feature (audited)",
        handler: || put(admin::replace_geofence),
    },
    RouteSpec {
        method: "DELETE",
        path: "/api/geofences/{id}",
        roles: ADMIN,
        summary: "Delete a geofence (audited)",
        handler: || delete(admin::delete_geofence),
    },
    RouteSpec {
        method: "GET",
        path: "/api/units",
        roles: ALL,
        summary: "Units in scope",
        handler: || get(handlers::units),
    },
    RouteSpec {
        method: "POST",
        path: "/api/units",
        roles: ADMIN,
        summary: "Create a unit: name, parent (audited)",
        handler: || post(admin::create_unit),
    },
    RouteSpec {
        method: "PATCH",
        path: "/api/units/{id}",
        roles: ADMIN,
        summary: "Rename or move a unit with its sub-units: name, parent (audited)",
        handler: || patch(admin::update_unit),
    },
    RouteSpec {
        method: "DELETE",
        path: "/api/units/{id}",
        roles: ADMIN,
        summary: "Delete a unit without vehicles, sub-units or users; else 409 (audited)",
        handler: || delete(admin::delete_unit),
    },
    RouteSpec {
        method: "GET",
        path: "/api/units/{id}/timetable",
        roles: ALL,
        summary: "A unit's working hours: its own stored timetable, else the nearest ancestor's, else `configuration`",
        handler: || get(admin::unit_timetable),
    },
    RouteSpec {
        method: "PUT",
        path: "/api/units/{id}/timetable",
        roles: ADMIN,
        summary: "Replace a unit's working hours: periods, seasons as in `[[rules.unit_timetables]]` (audited)",
        handler: || put(admin::put_unit_timetable),
    },
    RouteSpec {
        method: "DELETE",
        path: "/api/units/{id}/timetable",
        roles: ADMIN,
        summary: "Delete a unit's own working hours; it inherits again (audited)",
        handler: || delete(admin::delete_unit_timetable),
    },
    RouteSpec {
        method: "GET",
        path: "/api/vehicles",
        roles: ALL,
        summary: "Vehicles in scope",
        handler: || get(handlers::vehicles),
    },
    RouteSpec {
        method: "POST",
        path: "/api/vehicles",
        roles: ADMIN,
        summary: "Create a vehicle: plate, unit, class (audited)",
        handler: || post(admin::create_vehicle),
    },
    RouteSpec {
        method: "GET",
        path: "/api/vehicles/{id}",
        roles: ALL,
        summary: "One vehicle with its latest position",
        handler: || get(handlers::vehicle),
    },
    RouteSpec {
        method: "PATCH",
        path: "/api/vehicles/{id}",
        roles: ADMIN,
        summary: "Change a vehicle's plate, unit or class (audited)",
        handler: || patch(admin::update_vehicle),
    },
    RouteSpec {
        method: "DELETE",
        path: "/api/vehicles/{id}",
        roles: ADMIN,
        summary: "Delete a vehicle without terminals, track or cases; else 409 (audited)",
        handler: || delete(admin::delete_vehicle),
    },
    RouteSpec {
        method: "GET",
        path: "/api/vehicles/{id}/trips",
        roles: TRACKS,
        summary: "Trips and stops of a range: from, to (audited)",
        handler: || get(trips::trips),
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
        method: "POST",
        path: "/api/terminals",
        roles: ADMIN,
        summary: "Provision a terminal: phone, terminal_id, vehicle or plate, edition (audited)",
        handler: || post(admin::create_terminal),
    },
    RouteSpec {
        method: "PATCH",
        path: "/api/terminals/{phone}",
        roles: ADMIN,
        summary: "Rebind a terminal or reset its auth code so it registers again (audited)",
        handler: || patch(admin::update_terminal),
    },
    RouteSpec {
        method: "DELETE",
        path: "/api/terminals/{phone}",
        roles: ADMIN,
        summary: "Delete a terminal (audited)",
        handler: || delete(admin::delete_terminal),
    },
    RouteSpec {
        method: "GET",
        path: "/api/orders",
        roles: ALL,
        summary: "Dispatch orders and holiday filings of the cars in scope: plate, state, from, to",
        handler: || get(admin::orders),
    },
    RouteSpec {
        method: "POST",
        path: "/api/orders",
        roles: OPERATE,
        summary: "Create an order or filing in the `order import` format (audited)",
        handler: || post(admin::create_order),
    },
    RouteSpec {
        method: "PATCH",
        path: "/api/orders/{id}",
        roles: OPERATE,
        summary: "Move an order to requested, approved, cancelled or completed (audited)",
        handler: || patch(admin::update_order),
    },
    RouteSpec {
        method: "GET",
        path: "/api/calendars",
        roles: ALL,
        summary: "Holiday calendars: every year the rules know, with holidays and adjusted working days",
        handler: || get(admin::calendars),
    },
    RouteSpec {
        method: "PUT",
        path: "/api/calendars/{year}",
        roles: ADMIN,
        summary: "Store a year's calendar, the `calendar import` TOML file as the body (audited)",
        handler: || put(admin::put_calendar),
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
        summary: "Delete a user and end their sessions (audited)",
        handler: || delete(handlers::delete_user),
    },
    RouteSpec {
        method: "PATCH",
        path: "/api/users/{username}",
        roles: ADMIN,
        summary: "Disable or enable a user: disabled; disabling ends their sessions (audited)",
        handler: || patch(admin::update_user),
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
