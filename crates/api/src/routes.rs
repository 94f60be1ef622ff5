//! The route table: every route, its method, the roles that may call it, and what it does, declared
//! once. The router below, the OpenAPI document (`GET /api/openapi.json`, derived from this table) and
//! the permission-matrix test are all generated from it. Every error, from the gate, a handler, an
//! extractor or no route at all, answers in the one JSON contract of the `error` module.

use axum::extract::DefaultBodyLimit;
use axum::routing::{delete, get, patch, post, put};
use axum::{Json, Router};

use crate::error::{no_method, no_route};
use crate::resources::{
    audit_log, calendars, carpool, cases, casework, channels, commands, complaints, drivers, exports, fuel,
    fuel_report, geofences, intake, live, orders, reports, sessions, terminals, tokens, tracks, units, users,
    vehicles, yearly,
};
use crate::spec::{ADMIN, ALL, ANSWER, CASES, DESK, INSPECT, OPERATE, PUBLIC, REQUEST, RouteSpec, TRACKS};
use crate::{ApiState, auth, basemap, headers, openapi, web};

/// The largest statement an upload takes.
pub const STATEMENT_MAX_BYTES: usize = 64 << 20;

/// Every route of the API.
pub static ROUTES: &[RouteSpec] = &[
    RouteSpec {
        method: "POST",
        path: "/api/session",
        roles: PUBLIC,
        summary: "Log in: sets the HttpOnly session cookie",
        handler: || post(sessions::login),
    },
    RouteSpec {
        method: "DELETE",
        path: "/api/session",
        roles: PUBLIC,
        summary: "Log out",
        handler: || delete(sessions::logout),
    },
    RouteSpec {
        method: "GET",
        path: "/api/me",
        roles: ALL,
        summary: "The logged-in user",
        handler: || get(sessions::me),
    },
    RouteSpec {
        method: "GET",
        path: "/api/config",
        roles: ALL,
        summary: "Basemap settings for the page",
        handler: || get(web::page_config),
    },
    RouteSpec {
        method: "GET",
        path: "/api/basemap.pmtiles",
        roles: ALL,
        summary: "The basemap's PMTiles archive ([web.basemap] pmtiles), by byte ranges (206, 416, ETag)",
        handler: || get(basemap::pmtiles),
    },
    RouteSpec {
        method: "GET",
        path: "/api/basemap/glyphs/{fontstack}/{range}",
        roles: ALL,
        summary: "A glyph range of map text from [web.basemap] glyphs (empty when there is none)",
        handler: || get(basemap::glyphs),
    },
    RouteSpec {
        method: "GET",
        path: "/api/geofences",
        roles: ALL,
        summary: "Geofences (regions, depots, prohibited places, speed zones) as GeoJSON, each feature with its id",
        handler: || get(geofences::list),
    },
    RouteSpec {
        method: "POST",
        path: "/api/geofences",
        roles: ADMIN,
        summary: "Create a geofence: one GeoJSON Feature in the `geofence import` format (audited)",
        handler: || post(geofences::create),
    },
    RouteSpec {
        method: "PUT",
        path: "/api/geofences/{id}",
        roles: ADMIN,
        summary: "Replace a geofence with one GeoJSON Feature (audited)",
        handler: || put(geofences::replace),
    },
    RouteSpec {
        method: "DELETE",
        path: "/api/geofences/{id}",
        roles: ADMIN,
        summary: "Delete a geofence (audited)",
        handler: || delete(geofences::delete),
    },
    RouteSpec {
        method: "GET",
        path: "/api/units",
        roles: ALL,
        summary: "Units in scope",
        handler: || get(units::list),
    },
    RouteSpec {
        method: "POST",
        path: "/api/units",
        roles: ADMIN,
        summary: "Create a unit: name, parent (audited)",
        handler: || post(units::create),
    },
    RouteSpec {
        method: "PATCH",
        path: "/api/units/{id}",
        roles: ADMIN,
        summary: "Rename or move a unit with its sub-units, or require approval of unproven re-registrations: name, parent, reregistration_approval (audited)",
        handler: || patch(units::update),
    },
    RouteSpec {
        method: "DELETE",
        path: "/api/units/{id}",
        roles: ADMIN,
        summary: "Delete a unit without vehicles, sub-units or users; else 409 (audited)",
        handler: || delete(units::delete),
    },
    RouteSpec {
        method: "GET",
        path: "/api/units/{id}/report",
        roles: TRACKS,
        summary: "Monthly summary of a unit and its sub-units: month=YYYY-MM, format=json|csv|xlsx, lang=zh|en; each car's figures and the totals (each car's look audited)",
        handler: || get(reports::unit),
    },
    RouteSpec {
        method: "GET",
        path: "/api/units/{id}/settings",
        roles: ALL,
        summary: "A unit's own settings: second_person_approval (approving a backdated or one's own order of its cars needs a second person; default true)",
        handler: || get(units::settings),
    },
    RouteSpec {
        method: "PUT",
        path: "/api/units/{id}/settings",
        roles: ADMIN,
        summary: "Replace a unit's settings: second_person_approval (audited)",
        handler: || put(units::put_settings),
    },
    RouteSpec {
        method: "GET",
        path: "/api/units/{id}/timetable",
        roles: ALL,
        summary: "A unit's working hours: its own stored timetable, else the nearest ancestor's, else `configuration`",
        handler: || get(calendars::unit_timetable),
    },
    RouteSpec {
        method: "PUT",
        path: "/api/units/{id}/timetable",
        roles: ADMIN,
        summary: "Replace a unit's working hours: periods, seasons as in `[[rules.unit_timetables]]` (audited)",
        handler: || put(calendars::put_unit_timetable),
    },
    RouteSpec {
        method: "DELETE",
        path: "/api/units/{id}/timetable",
        roles: ADMIN,
        summary: "Delete a unit's own working hours; it inherits again (audited)",
        handler: || delete(calendars::delete_unit_timetable),
    },
    RouteSpec {
        method: "GET",
        path: "/api/vehicles",
        roles: ALL,
        summary: "Vehicles in scope",
        handler: || get(vehicles::list),
    },
    RouteSpec {
        method: "POST",
        path: "/api/vehicles",
        roles: ADMIN,
        summary: "Create a vehicle: plate, unit, class (audited)",
        handler: || post(vehicles::create),
    },
    RouteSpec {
        method: "GET",
        path: "/api/vehicles/{id}",
        roles: ALL,
        summary: "One vehicle with its latest position",
        handler: || get(vehicles::detail),
    },
    RouteSpec {
        method: "PATCH",
        path: "/api/vehicles/{id}",
        roles: ADMIN,
        summary: "Change a vehicle's plate, unit or class (audited)",
        handler: || patch(vehicles::update),
    },
    RouteSpec {
        method: "DELETE",
        path: "/api/vehicles/{id}",
        roles: ADMIN,
        summary: "Delete a vehicle without terminals, track or cases; else 409 (audited)",
        handler: || delete(vehicles::delete),
    },
    RouteSpec {
        method: "GET",
        path: "/api/vehicles/{id}/trips",
        roles: TRACKS,
        summary: "Trips and stops of a range: from, to (audited)",
        handler: || get(tracks::trips),
    },
    RouteSpec {
        method: "GET",
        path: "/api/vehicles/{id}/track",
        roles: TRACKS,
        summary: "Track export: format=geojson|gpx|kml|csv, from, to (audited)",
        handler: || get(exports::track),
    },
    RouteSpec {
        method: "GET",
        path: "/api/vehicles/{id}/replay",
        roles: TRACKS,
        summary: "Replay: simplified track, stops, trips, cases (audited)",
        handler: || get(tracks::replay),
    },
    RouteSpec {
        method: "GET",
        path: "/api/vehicles/{id}/report",
        roles: TRACKS,
        summary: "Monthly report of one car: month=YYYY-MM, format=json|csv|xlsx, lang=zh|en; mileage, trips, time in use, days used, violations by rule, cases by state (audited)",
        handler: || get(reports::monthly),
    },
    RouteSpec {
        method: "POST",
        path: "/api/vehicles/{id}/commands",
        roles: OPERATE,
        summary: "Downlink command to the vehicle's terminal: position, tracking, text, parameters (set: administrators), attributes (audited)",
        handler: || post(commands::send),
    },
    RouteSpec {
        method: "GET",
        path: "/api/terminals",
        roles: OPERATE,
        summary: "Terminals, with re-registrations and a pending one; phone and terminal id masked but for administrators",
        handler: || get(terminals::list),
    },
    RouteSpec {
        method: "POST",
        path: "/api/terminals",
        roles: ADMIN,
        summary: "Provision a terminal: phone, terminal_id, vehicle or plate, edition (audited)",
        handler: || post(terminals::create),
    },
    RouteSpec {
        method: "PATCH",
        path: "/api/terminals/{phone}",
        roles: ADMIN,
        summary: "Rebind a terminal, reset its auth code so it registers again, or set its clock offset (audited)",
        handler: || patch(terminals::update),
    },
    RouteSpec {
        method: "POST",
        path: "/api/terminals/{phone}/reregistration",
        roles: ADMIN,
        summary: "Approve or reject a terminal's pending re-registration: decision=approve|reject (audited)",
        handler: || post(terminals::decide_reregistration),
    },
    RouteSpec {
        method: "DELETE",
        path: "/api/terminals/{phone}",
        roles: ADMIN,
        summary: "Delete a terminal (audited)",
        handler: || delete(terminals::delete),
    },
    RouteSpec {
        method: "GET",
        path: "/api/drivers",
        roles: ALL,
        summary: "Drivers of the units in scope: name, certificate (the number a card sign-in reports), phone, unit",
        handler: || get(drivers::list),
    },
    RouteSpec {
        method: "POST",
        path: "/api/drivers",
        roles: ADMIN,
        summary: "Register a driver: name, certificate, phone, unit (audited)",
        handler: || post(drivers::create),
    },
    RouteSpec {
        method: "PUT",
        path: "/api/drivers/{id}",
        roles: ADMIN,
        summary: "Replace a driver's name, certificate, phone and unit (audited)",
        handler: || put(drivers::replace),
    },
    RouteSpec {
        method: "DELETE",
        path: "/api/drivers/{id}",
        roles: ADMIN,
        summary: "Delete a driver; their card sign-ins stay on record (audited)",
        handler: || delete(drivers::delete),
    },
    RouteSpec {
        method: "GET",
        path: "/api/fuel/cards",
        roles: ALL,
        summary: "Fuel cards of the units in scope: number, issuer, unit, vehicle, state, state_date, state_reason, limit_fill_fen, limit_month_fen",
        handler: || get(fuel::cards),
    },
    RouteSpec {
        method: "PATCH",
        path: "/api/fuel/cards/{number}",
        roles: ADMIN,
        summary: "Change a fuel card: vehicle (null for a pool card), state, state_date, state_reason, limits (audited)",
        handler: || patch(fuel::update_card),
    },
    RouteSpec {
        method: "GET",
        path: "/api/fuel/profiles",
        roles: ALL,
        summary: "The fuel profiles of the cars in scope: tank_litres, rated_l_per_100km, fuel (entered, or the class's default)",
        handler: || get(fuel::profiles),
    },
    RouteSpec {
        method: "PUT",
        path: "/api/fuel/profiles/{vehicle}",
        roles: ADMIN,
        summary: "Enter a car's fuel profile: tank_litres, rated_l_per_100km, fuel=petrol|diesel (audited)",
        handler: || put(fuel::set_profile),
    },
    RouteSpec {
        method: "GET",
        path: "/api/fuel/stations",
        roles: ALL,
        summary: "Fuel stations: code, name, brand, position (WGS-84; GCJ-02 sources are converted on import)",
        handler: || get(fuel::stations),
    },
    RouteSpec {
        method: "POST",
        path: "/api/fuel/statements",
        roles: INSPECT,
        summary: "Import an issuer's statement (CSV in UTF-8 or GBK, or XLSX, as the body; ?name=&layout=&encoding=) and check its new transactions: stored, duplicates, errors by line and column, findings, cases_opened",
        handler: || post(fuel::upload),
    },
    RouteSpec {
        method: "GET",
        path: "/api/fuel/findings",
        roles: CASES,
        summary: "Findings of the fuel checks on the fills of the units in scope (?unit=&check=&from=&to=&limit=), newest first, each with its evidence and case",
        handler: || get(fuel::findings),
    },
    RouteSpec {
        method: "GET",
        path: "/api/fuel/report",
        roles: CASES,
        summary: "The fuel cards' figures of a year by unit and month (?year=&unit=&format=json|csv|xlsx&lang=zh|en): cards used, fills, litres, amount, findings by check, fills flagged and money at stake, cards cancelled and suspended, amount recovered",
        handler: || get(fuel_report::fuel_report_route),
    },
    RouteSpec {
        method: "GET",
        path: "/api/channels",
        roles: ADMIN,
        summary: "Alert channels: the stored ones (webhook URL and format or e-mail address, units served, min_severity, enabled) and, read-only, the configured ones",
        handler: || get(channels::list),
    },
    RouteSpec {
        method: "POST",
        path: "/api/channels",
        roles: ADMIN,
        summary: "Add an alert channel: name, kind=webhook|email, url and format or address, units, min_severity, enabled (audited)",
        handler: || post(channels::create),
    },
    RouteSpec {
        method: "PUT",
        path: "/api/channels/{id}",
        roles: ADMIN,
        summary: "Replace an alert channel's fields (audited)",
        handler: || put(channels::replace),
    },
    RouteSpec {
        method: "DELETE",
        path: "/api/channels/{id}",
        roles: ADMIN,
        summary: "Delete an alert channel; its deliveries still due are given up (audited)",
        handler: || delete(channels::delete),
    },
    RouteSpec {
        method: "GET",
        path: "/api/orders",
        roles: ALL,
        summary: "Dispatch orders and holiday filings of the cars in scope: plate, state, from, to",
        handler: || get(orders::list),
    },
    RouteSpec {
        method: "POST",
        path: "/api/orders",
        roles: OPERATE,
        summary: "Create an order or filing in the `order import` format (audited)",
        handler: || post(orders::create),
    },
    RouteSpec {
        method: "PATCH",
        path: "/api/orders/{id}",
        roles: OPERATE,
        summary: "Move an order to requested, approved, cancelled or completed; with its `version` (body or If-Match), 409 when changed since (audited)",
        handler: || patch(orders::update),
    },
    RouteSpec {
        method: "GET",
        path: "/api/calendars",
        roles: ALL,
        summary: "Holiday calendars: every year the rules know, with holidays and adjusted working days",
        handler: || get(calendars::list),
    },
    RouteSpec {
        method: "PUT",
        path: "/api/calendars/{year}",
        roles: ADMIN,
        summary: "Store a year's calendar, the `calendar import` TOML file as the body (audited)",
        handler: || put(calendars::put),
    },
    RouteSpec {
        method: "GET",
        path: "/api/positions/latest",
        roles: ALL,
        summary: "Latest position of every vehicle in scope",
        handler: || get(live::latest),
    },
    RouteSpec {
        method: "GET",
        path: "/api/positions",
        roles: TRACKS,
        summary: "Stored points of a vehicle: plate or vehicle, from, to (audited)",
        handler: || get(tracks::positions),
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
        handler: || get(cases::list),
    },
    RouteSpec {
        method: "GET",
        path: "/api/cases/{id}",
        roles: CASES,
        summary: "One alert case with its reasoning",
        handler: || get(cases::one),
    },
    RouteSpec {
        method: "POST",
        path: "/api/cases/{id}/actions",
        roles: CASES,
        summary: "Acknowledge, explain, close or escalate a case (audited)",
        handler: || post(cases::act),
    },
    RouteSpec {
        method: "GET",
        path: "/api/cases/{id}/finding",
        roles: CASES,
        summary: "A case's finding: outcome, violation type, people held to account with their measures, amount recovered",
        handler: || get(casework::get_finding),
    },
    RouteSpec {
        method: "PUT",
        path: "/api/cases/{id}/finding",
        roles: INSPECT,
        summary: "Record a case's finding: outcome, violation, people, recovered_yuan, decided; closes an explained or escalated case; 409 on an open one (audited)",
        handler: || put(casework::put_finding),
    },
    RouteSpec {
        method: "POST",
        path: "/api/complaints",
        roles: DESK,
        summary: "Enter a complaint: received, channel, reporter_name, reporter_phone (sealed), text, place, plates (resolved fuzzily, unknown kept and flagged), window_from, window_to (audited)",
        handler: || post(complaints::create),
    },
    RouteSpec {
        method: "GET",
        path: "/api/complaints",
        roles: ALL,
        summary: "Complaints, newest first: state, unit, channel, from, to, unresolved, overdue, q, limit, offset; a supervisor sees those forwarded to their units, never the reporter",
        handler: || get(complaints::list),
    },
    RouteSpec {
        method: "GET",
        path: "/api/complaints/{id}",
        roles: ALL,
        summary: "One complaint with its steps and deadline",
        handler: || get(complaints::one),
    },
    RouteSpec {
        method: "GET",
        path: "/api/complaints/{id}/evidence",
        roles: ALL,
        summary: "The named cars over the window: where they were, their track and replay link, orders and filings covering it, alert cases raised (audited)",
        handler: || get(complaints::evidence),
    },
    RouteSpec {
        method: "POST",
        path: "/api/complaints/{id}/forward",
        roles: DESK,
        summary: "Forward a complaint to its car's unit (or `unit`) with a deadline: `days` working days (default [web.casework] answer_days) or `deadline` (audited)",
        handler: || post(complaints::forward),
    },
    RouteSpec {
        method: "POST",
        path: "/api/complaints/{id}/answer",
        roles: ANSWER,
        summary: "The unit's answer to a complaint forwarded to it: text (audited); 403 from another unit",
        handler: || post(complaints::answer),
    },
    RouteSpec {
        method: "POST",
        path: "/api/complaints/{id}/review",
        roles: INSPECT,
        summary: "Accept the unit's answer or send it back: decision=accept|send_back, text, deadline (audited)",
        handler: || post(complaints::review),
    },
    RouteSpec {
        method: "POST",
        path: "/api/complaints/{id}/reply",
        roles: DESK,
        summary: "Record the answer to the reporter: how, text (audited)",
        handler: || post(complaints::reply),
    },
    RouteSpec {
        method: "POST",
        path: "/api/complaints/{id}/cases",
        roles: DESK,
        summary: "Link a case (`case`) or open one of kind `complaint` for a named car (`open`) (audited)",
        handler: || post(complaints::link_case),
    },
    RouteSpec {
        method: "GET",
        path: "/api/complaints/{id}/reporter",
        roles: INSPECT,
        summary: "The reporter's number in clear, for the roles `[web.casework] unmask_roles` names (audited)",
        handler: || get(complaints::reporter),
    },
    RouteSpec {
        method: "GET",
        path: "/report",
        roles: PUBLIC,
        summary: "The public complaint form (no login), Chinese or English (lang=zh|en), when [web.casework] report_form is on; else 404",
        handler: || get(intake::report_page),
    },
    RouteSpec {
        method: "POST",
        path: "/api/report",
        roles: PUBLIC,
        summary: "File a complaint from the public (no login; channel web_form): the form's fields, or JSON reporter_name, reporter_phone (sealed), text, place, plates, window_from, window_to; at most [web.casework] report_quota per report_quota_secs from one address (429 with Retry-After); 404 when report_form is off",
        handler: || post(intake::file),
    },
    RouteSpec {
        method: "GET",
        path: "/api/casework/summary",
        roles: CASES,
        summary: "The office's figures: from, to (YYYY-MM-DD or RFC 3339), unit, format=json|csv|xlsx, lang=zh|en (a download's titles); complaints, findings, people dealt with, sanctions, amount recovered, by unit and month",
        handler: || get(casework::summary),
    },
    RouteSpec {
        method: "GET",
        path: "/api/users",
        roles: ADMIN,
        summary: "Users",
        handler: || get(users::list),
    },
    RouteSpec {
        method: "POST",
        path: "/api/users",
        roles: ADMIN,
        summary: "Create a user (audited)",
        handler: || post(users::create),
    },
    RouteSpec {
        method: "DELETE",
        path: "/api/users/{username}",
        roles: ADMIN,
        summary: "Delete a user and end their sessions (audited)",
        handler: || delete(users::delete),
    },
    RouteSpec {
        method: "PATCH",
        path: "/api/users/{username}",
        roles: ADMIN,
        summary: "Disable or enable a user: disabled; disabling ends their sessions (audited)",
        handler: || patch(users::update),
    },
    RouteSpec {
        method: "GET",
        path: "/api/tokens",
        roles: ALL,
        summary: "The caller's personal API tokens, live and revoked (never their secrets)",
        handler: || get(tokens::list),
    },
    RouteSpec {
        method: "POST",
        path: "/api/tokens",
        roles: ALL,
        summary: "Create a personal API token: name; the answer holds its secret, shown once, to send as `Authorization: Bearer <token>` (acts as the caller, with their role and scope, until revoked); needs a login session (audited)",
        handler: || post(tokens::create),
    },
    RouteSpec {
        method: "DELETE",
        path: "/api/tokens/{id}",
        roles: ALL,
        summary: "Revoke one of the caller's personal API tokens; it is refused (401) from then on; needs a login session (audited)",
        handler: || delete(tokens::revoke),
    },
    RouteSpec {
        method: "GET",
        path: "/api/carpool/requests",
        roles: ALL,
        summary: "Requests for a car of the pool (用车申请) of the units in scope, newest window first",
        handler: || get(carpool::list),
    },
    RouteSpec {
        method: "POST",
        path: "/api/carpool/requests",
        roles: REQUEST,
        summary: "Ask for a car: start, end, from, destinations, passengers, purpose, kind (regular, emergency, campaign), class; unit (the caller's own when absent; another unit is 403) (audited)",
        handler: || post(carpool::create),
    },
    RouteSpec {
        method: "GET",
        path: "/api/carpool/requests/{id}",
        roles: ALL,
        summary: "One request, its assignment and the notices sent about it",
        handler: || get(carpool::detail),
    },
    RouteSpec {
        method: "GET",
        path: "/api/carpool/requests/{id}/offers",
        roles: OPERATE,
        summary: "The pool's cars and the drivers free for the request's whole window, nearest car first with its distance to the pickup, and the suggested pair",
        handler: || get(carpool::offers),
    },
    RouteSpec {
        method: "POST",
        path: "/api/carpool/requests/{id}/assign",
        roles: OPERATE,
        summary: "Assign a car and a driver: vehicle, driver; writes the approved dispatch order and notifies the requester and the driver; a double booking is 409 naming the clash (audited)",
        handler: || post(carpool::assign),
    },
    RouteSpec {
        method: "POST",
        path: "/api/carpool/requests/{id}/settle",
        roles: OPERATE,
        summary: "Settle an assigned trip from its car's track: departure, return, km, each destination reached or not, time outside the corridor, idle time; differences beyond the thresholds open a case (audited)",
        handler: || post(carpool::settle),
    },
    RouteSpec {
        method: "PUT",
        path: "/api/carpool/requests/{id}/settlement",
        roles: OPERATE,
        summary: "Confirm a settled trip: km (a correction, with a note), note (audited)",
        handler: || put(carpool::confirm),
    },
    RouteSpec {
        method: "PUT",
        path: "/api/carpool/requests/{id}/rating",
        roles: REQUEST,
        summary: "Rate a settled trip: stars (1 to 5), note; a requester rates the trips they asked for, a supervisor on the unit's behalf (audited)",
        handler: || put(carpool::rate),
    },
    RouteSpec {
        method: "POST",
        path: "/api/carpool/maintenance",
        roles: OPERATE,
        summary: "A car's maintenance window: vehicle, start, end, note; it blocks the car like an order (audited)",
        handler: || post(carpool::add_maintenance),
    },
    RouteSpec {
        method: "GET",
        path: "/api/vehicles/{id}/fleet",
        roles: ALL,
        summary: "A car's fleet fields: licence_needed, ownership (unit, pool), disposed_on and disposal, marking_status, terminal_status and their exemption reasons",
        handler: || get(carpool::fleet),
    },
    RouteSpec {
        method: "PUT",
        path: "/api/vehicles/{id}/fleet",
        roles: ADMIN,
        summary: "Replace a car's fleet fields (audited)",
        handler: || put(carpool::put_fleet),
    },
    RouteSpec {
        method: "GET",
        path: "/api/report/yearly",
        roles: ALL,
        summary: "The office's yearly figures of the units in scope: year, unit, format (json, csv, xlsx: one sheet per table): cars by unit and class, kept and disposed with the reduction rate, terminals installed with the install rate (exempt apart), marking, the pool's trips and km by kind and unit served, violations by rule",
        handler: || get(yearly::yearly_report),
    },
    RouteSpec {
        method: "GET",
        path: "/api/audit",
        roles: ADMIN,
        summary: "The tamper-evident audit log: after, limit",
        handler: || get(audit_log::list),
    },
    RouteSpec {
        method: "GET",
        path: "/api/openapi.json",
        roles: PUBLIC,
        summary: "This API's OpenAPI document",
        handler: || get(|| async { Json(openapi::document(ROUTES)) }),
    },
];

/// The API and the page, built from [`ROUTES`]; every non-public route sits behind the role gate, the
/// login's body has its own bound (`[web.login] max_body_bytes`), and every answer carries the security
/// headers of [`headers`].
pub fn router(state: ApiState) -> Router {
    let mut r: Router<ApiState> = Router::new();
    for spec in ROUTES {
        let mut mr = (spec.handler)();
        if (spec.method, spec.path) == ("POST", "/api/session") {
            mr = mr.layer(DefaultBodyLimit::max(state.config().login.max_body_bytes));
        }
        if (spec.method, spec.path) == ("POST", "/api/fuel/statements") {
            // A year's statement of a city's cards runs to tens of megabytes.
            mr = mr.layer(DefaultBodyLimit::max(STATEMENT_MAX_BYTES));
        }
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
    let secure = headers::SecurityHeaders::new(state.config());
    r.merge(web::router())
        .fallback(no_route)
        .method_not_allowed_fallback(no_method)
        .layer(axum::middleware::from_fn_with_state(secure, headers::secure))
        .with_state(state)
}
