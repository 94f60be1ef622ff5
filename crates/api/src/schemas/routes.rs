//! What each route takes and answers, by area: each function fills in a [`Described`] for the routes of
//! its area and says whether the route was one of them.

use serde_json::{Value, json};

use crate::resources::{
    audit_log, carpool, cases, casework, complaints, exports, fuel, fuel_report, intake, orders, reports,
    terminals, tracks, units, vehicles,
};

use super::{Described, array, fields_of, names, nullable, object, query_of, r, time, variants};

/// The session, the map's files and the public intake.
pub(super) fn session(method: &str, path: &str, d: &mut Described) -> bool {
    match (method, path) {
        ("POST", "/api/session") => {
            d.body = Some(fields_of(
                &names::<crate::resources::sessions::LoginRequest>(),
                &["username", "password"],
                json!({"username": {"type": "string"}, "password": {"type": "string"}}),
            ));
            d.ok = ok(r("Me"));
        }
        ("DELETE", "/api/session") => {
            d.ok = none();
            d.ok_description = Some("No content: the session ended and its cookie is cleared".into());
        }
        ("GET", "/api/me") => d.ok = ok(r("Me")),
        ("GET", "/api/basemap.pmtiles") => {
            d.ok = (200, None);
            d.ok_media = vec![("application/vnd.pmtiles", binary())];
            d.ok_description = Some(
                "The PMTiles archive, whole or (with Range) a 206 part of it; 404 when none is configured"
                    .into(),
            );
        }
        ("GET", "/api/basemap/glyphs/{fontstack}/{range}") => {
            d.ok = (200, None);
            d.ok_media = vec![("application/x-protobuf", binary())];
            d.ok_description = Some(
                "The glyph range (Mapbox glyph PBF); 404 for a range the directory lacks: the map draws those characters with the browser's fonts".into(),
            );
        }
        ("GET", "/report") => {
            d.query = query_of::<intake::PageQuery>();
            d.ok = (200, None);
            d.ok_media = vec![("text/html", json!({"type": "string"}))];
            d.ok_description = Some(
                "The public complaint form (no script), when `[web.casework] report_form` is on; 404 otherwise".into(),
            );
        }
        ("POST", "/api/report") => {
            d.body = Some(fields_of(
                &names::<intake::PublicReport>(),
                &["text"],
                json!({"reporter_name": {"type": "string", "description": "Absent: anonymous"},
                       "reporter_phone": {"type": "string", "description": "Sealed at rest, never shown to the unit"},
                       "text": {"type": "string", "minLength": 1}, "place": {"type": "string"},
                       "plates": array(json!({"type": "string", "description": "A plate or marking number, whole or in part"})),
                       "window_from": time(), "window_to": time()}),
            ));
            d.ok = created(object(
                &["id", "received"],
                json!({"id": {"type": "integer"}, "received": time()}),
            ));
            d.ok_media = vec![(
                "text/html",
                json!({"type": "string", "description": "The answer page, when the form was posted (application/x-www-form-urlencoded)"}),
            )];
            d.ok_description = Some(
                "Filed: the complaint's number and when it was received (429 with Retry-After past the address's quota; 404 when the intake is off)".into(),
            );
        }
        _ => return false,
    }
    true
}

/// Units, vehicles, the page's configuration and geofences.
pub(super) fn registry(method: &str, path: &str, d: &mut Described) -> bool {
    match (method, path) {
        ("GET", "/api/units") => d.ok = ok(array(r("Unit"))),
        ("POST", "/api/units") => {
            d.body = Some(fields_of(
                &names::<units::NewUnit>(),
                &["name"],
                json!({"name": {"type": "string"}, "parent": nullable(json!({"type": "integer"}))}),
            ));
            d.ok = created(r("Unit"));
        }
        ("PATCH", "/api/units/{id}") => {
            d.body = Some(fields_of(
                &names::<units::UnitPatch>(),
                &[],
                json!({"name": {"type": "string"},
                       "parent": nullable(json!({"type": "integer", "description": "The new parent; null: a top unit"})),
                       "reregistration_approval": {"type": "boolean", "description": "Re-registrations of its terminals without proof wait for an administrator"}}),
            ));
            d.ok = ok(r("Unit"));
        }
        ("GET", "/api/vehicles") => d.ok = ok(array(r("Vehicle"))),
        ("POST", "/api/vehicles") => {
            d.body = Some(fields_of(
                &names::<vehicles::NewVehicle>(),
                &["plate", "unit", "class"],
                json!({"plate": {"type": "string"}, "unit": {"type": "integer"}, "class": r("VehicleClass"),
                       "marking": {"type": "string", "description": "The marking number (标识号); empty clears it"}}),
            ));
            d.ok = created(r("Vehicle"));
        }
        ("PATCH", "/api/vehicles/{id}") => {
            d.body = Some(fields_of(
                &names::<vehicles::VehiclePatch>(),
                &[],
                json!({"plate": {"type": "string"}, "unit": {"type": "integer"}, "class": r("VehicleClass"),
                       "marking": {"type": "string", "description": "The marking number (标识号); empty clears it"}}),
            ));
            d.ok = ok(r("Vehicle"));
        }
        ("GET", "/api/vehicles/{id}") => d.ok = ok(r("VehicleDetail")),
        ("GET" | "PUT", "/api/units/{id}/settings") => {
            if method == "PUT" {
                d.body = Some(fields_of(
                    &names::<tianshu_rules::orders::UnitSettings>(),
                    &["second_person_approval"],
                    json!({"second_person_approval": {"type": "boolean"}}),
                ));
            }
            d.ok = ok(r("UnitSettings"));
        }
        ("GET", "/api/terminals") => d.ok = ok(array(r("Terminal"))),
        ("GET", "/api/config") => d.ok = ok(r("PageConfig")),
        ("POST", "/api/geofences") => {
            d.body = Some(r("FenceFeature"));
            d.ok = created(r("Feature"));
        }
        ("PUT", "/api/geofences/{id}") => {
            d.body = Some(r("FenceFeature"));
            d.ok = ok(r("Feature"));
        }
        _ => return false,
    }
    true
}

/// Terminals and their re-registration, commands, drivers and channels.
pub(super) fn terminals(method: &str, path: &str, d: &mut Described) -> bool {
    match (method, path) {
        ("POST", "/api/terminals") => {
            d.body = Some(fields_of(
                &names::<terminals::NewTerminalReq>(),
                &["phone", "terminal_id"],
                json!({"phone": {"type": "string", "pattern": "^[0-9]{1,20}$", "description": "The phone number of the JT/T 808 header"},
                       "terminal_id": {"type": "string", "description": "As the terminal sends it when it registers"},
                       "vehicle": {"type": "integer", "description": "The vehicle's id (or give plate)"},
                       "plate": {"type": "string", "description": "The vehicle's plate (or give vehicle)"},
                       "edition": variants::<tianshu_model::Edition>()}),
            ));
            d.ok = created(r("Terminal"));
        }
        ("PATCH", "/api/terminals/{phone}") => {
            d.body = Some(fields_of(
                &names::<terminals::TerminalPatch>(),
                &[],
                json!({"terminal_id": {"type": "string"},
                       "vehicle": nullable(json!({"type": "integer", "description": "Rebind to this vehicle; null unbinds"})),
                       "plate": {"type": "string", "description": "Rebind to the vehicle with this plate"},
                       "reset_auth_code": {"type": "boolean", "description": "Clear the auth code: the terminal must register again"},
                       "clock_offset_secs": {"type": "integer", "minimum": -50400, "maximum": 50400,
                           "description": "Seconds added to its fix times, whole or half hours; 0 ends a correction"}}),
            ));
            d.ok = ok(r("Terminal"));
        }
        ("POST", "/api/terminals/{phone}/reregistration") => {
            d.body = Some(fields_of(
                &names::<terminals::ReregistrationDecision>(),
                &["decision"],
                json!({"decision": variants::<terminals::Decision>()}),
            ));
            d.ok = ok(r("Terminal"));
        }
        ("POST", "/api/vehicles/{id}/commands") => {
            d.body = Some(r("TerminalCommand"));
            d.ok = ok(r("CommandOutcome"));
            d.failures = vec![
                (
                    409,
                    "The vehicle's terminal is not connected",
                    r("CommandFailure"),
                ),
                (503, "No gateway runs in this process", r("Error")),
                (504, "The terminal did not answer in time", r("CommandFailure")),
            ];
        }
        ("GET", "/api/drivers") => d.ok = ok(array(r("Driver"))),
        ("POST" | "PUT", "/api/drivers" | "/api/drivers/{id}") => {
            d.body = Some(r("DriverFields"));
            d.ok = (if method == "POST" { 201 } else { 200 }, Some(r("Driver")));
        }
        ("POST", "/api/drivers/import") => {
            d.body = Some(
                json!({"type": "string", "description": "The driver file: CSV (UTF-8 or GBK) with the header name,certificate,phone,licence,unit,active"}),
            );
            d.body_media = Some("text/csv");
            d.ok = ok(r("DriverImport"));
        }
        ("GET", "/api/channels") => d.ok = ok(r("ChannelList")),
        ("POST" | "PUT", "/api/channels" | "/api/channels/{id}") => {
            d.body = Some(r("ChannelFields"));
            d.ok = (if method == "POST" { 201 } else { 200 }, Some(r("Channel")));
        }
        _ => return false,
    }
    true
}

/// Orders, calendars and timetables, reports, tracks, positions and the live feed.
pub(super) fn tracking(method: &str, path: &str, d: &mut Described) -> bool {
    match (method, path) {
        ("PATCH", "/api/orders/{id}") => {
            d.body = Some(fields_of(
                &names::<orders::OrderPatch>(),
                &["state"],
                json!({"state": variants::<tianshu_rules::orders::OrderState>(),
                       "version": {"type": "integer", "description": "The version read; else If-Match"}}),
            ));
            d.ok = ok(r("Order"));
        }
        ("PUT", "/api/calendars/{year}") => {
            d.body = Some(
                json!({"type": "string", "description": "The year's calendar file, TOML, in the `calendar import` format: year, notice, [[holiday]] tables with name, name_en, first, last, working (dates YYYY-MM-DD)"}),
            );
            d.body_media = Some("application/toml");
            d.ok = ok(r("CalendarYear"));
            d.may_create = true;
        }
        ("PUT", "/api/units/{id}/timetable") => {
            d.body = Some(r("TimetableBody"));
            d.ok = ok(r("UnitTimetable"));
            d.may_create = true;
        }
        ("GET", "/api/geofences") => {
            d.ok = (200, None);
            d.ok_media = vec![("application/geo+json", r("FeatureCollection"))];
        }
        ("GET", "/api/units/{id}/timetable") => d.ok = ok(r("UnitTimetable")),
        ("GET", "/api/calendars") => d.ok = ok(array(r("CalendarYear"))),
        ("POST", "/api/orders") => {
            d.body = Some(r("OrderImport"));
            d.ok = created(r("Order"));
        }
        ("GET", "/api/vehicles/{id}/report" | "/api/units/{id}/report") => {
            d.query = query_of::<reports::ReportQuery>();
            let name = if path.starts_with("/api/units") {
                "UnitReport"
            } else {
                "MonthlyReport"
            };
            d.ok = ok(r(name));
            d.ok_media = vec![
                ("text/csv", text()),
                (
                    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    binary(),
                ),
            ];
        }
        ("GET", "/api/vehicles/{id}/trips") => {
            d.query = query_of::<tracks::RangeQuery>();
            d.ok = ok(r("TripsAndStops"));
        }
        ("GET", "/api/vehicles/{id}/replay") => {
            d.query = query_of::<tracks::ReplayQuery>();
            d.ok = ok(r("Replay"));
        }
        ("GET", "/api/vehicles/{id}/track") => {
            d.ok = (200, None);
            d.query = query_of::<exports::TrackQuery>();
            d.ok_media = exports::Format::ALL
                .iter()
                .map(|f| {
                    let essence = f.content_type().split(';').next().unwrap_or_default();
                    let schema = match f {
                        exports::Format::Geojson => json!({"type": "object", "description": "A FeatureCollection of one LineString, each point's time and speed in its properties"}),
                        _ => text(),
                    };
                    (essence, schema)
                })
                .collect();
        }
        ("GET", "/api/positions") => {
            d.query = query_of::<tracks::PositionsQuery>();
            d.ok = ok(array(r("Position")));
        }
        ("GET", "/api/positions/latest") => d.ok = ok(array(r("Position"))),
        ("GET", "/api/live") => {
            d.ok = (101, None);
            d.ok_description = Some(format!(
                "Switching Protocols: a WebSocket of JSON text frames, `x-messages` their shapes: first a snapshot of the vehicles in scope and their latest positions, then the positions committed and the alerts raised; a fresh snapshot when the scope changed or the client fell behind; closed with code {} when the session ends",
                crate::live::CLOSE_SESSION_ENDED
            ));
            d.messages = Some(r("LiveMessage"));
        }
        ("GET", "/api/orders") => {
            d.query = query_of::<orders::OrdersQuery>();
            d.ok = ok(array(r("Order")));
        }
        _ => return false,
    }
    true
}

/// Cases, findings, complaints and the casework figures.
pub(super) fn casework(method: &str, path: &str, d: &mut Described) -> bool {
    match (method, path) {
        ("GET", "/api/cases") => {
            d.query = query_of::<cases::CasesQuery>();
            d.ok = ok(array(r("Case")));
        }
        ("GET", "/api/cases/{id}") => d.ok = ok(r("Case")),
        ("POST", "/api/cases/{id}/actions") => {
            d.body = Some(object(
                &["action"],
                json!({"action": {"type": "string", "enum": ["acknowledge", "explain", "close", "escalate"]},
                       "text": {"type": "string", "description": "explain: the explanation"},
                       "note": {"type": "string", "description": "close, escalate: a note"}}),
            ));
            d.ok = ok(r("Case"));
        }
        ("GET", "/api/cases/{id}/finding") => d.ok = ok(r("Finding")),
        ("PUT", "/api/cases/{id}/finding") => {
            d.body = Some(r("FindingBody"));
            d.ok = ok(r("Finding"));
        }
        ("POST", "/api/complaints") => {
            d.body = Some(r("NewComplaint"));
            d.ok = created(r("Complaint"));
        }
        ("GET", "/api/complaints") => {
            d.query = query_of::<complaints::ComplaintsQuery>();
            d.ok = ok(r("ComplaintPage"));
        }
        ("GET", "/api/complaints/{id}") => d.ok = ok(r("Complaint")),
        ("GET", "/api/complaints/{id}/evidence") => d.ok = ok(r("Evidence")),
        ("GET", "/api/complaints/{id}/reporter") => d.ok = ok(r("Reporter")),
        (
            "POST",
            "/api/complaints/{id}/forward"
            | "/api/complaints/{id}/answer"
            | "/api/complaints/{id}/review"
            | "/api/complaints/{id}/reply",
        ) => {
            d.body = Some(r("ComplaintStep"));
            d.ok = ok(r("Complaint"));
        }
        ("POST", "/api/complaints/{id}/cases") => {
            d.body = Some(fields_of(
                &names::<complaints::CaseLinkBody>(),
                &[],
                json!({"case": {"type": "integer", "description": "An existing case to link"},
                       "open": {"type": "integer", "description": "A car the complaint names: open a case of kind `complaint` for it"}}),
            ));
            d.ok = ok(r("Complaint"));
        }
        ("GET", "/api/casework/summary") => {
            d.query = query_of::<casework::SummaryQuery>();
            for p in &mut d.query {
                if p["name"] == "from" || p["name"] == "to" {
                    p["schema"] = json!({"type": "string", "description": "A local date YYYY-MM-DD (its midnight, China time) or an RFC 3339 instant"});
                }
                if p["name"] == "format" {
                    p["schema"] = json!({"type": "string", "enum": ["json", "csv"]});
                }
            }
            d.ok = ok(r("CaseworkSummary"));
            d.ok_media = vec![("text/csv", text())];
        }
        _ => return false,
    }
    true
}

/// Users, the audit log, tokens and the document itself.
pub(super) fn access(method: &str, path: &str, d: &mut Described) -> bool {
    match (method, path) {
        ("GET", "/api/users") => d.ok = ok(array(r("User"))),
        ("POST", "/api/users") => {
            d.body = Some(object(
                &["username", "password", "role"],
                json!({"username": {"type": "string"}, "password": {"type": "string", "minLength": 8},
                       "role": r("Role"), "unit": nullable(json!({"type": "integer"}))}),
            ));
            d.ok = created(r("User"));
        }
        ("PATCH", "/api/users/{username}") => {
            d.body = Some(object(&["disabled"], json!({"disabled": {"type": "boolean"}})));
            d.ok = ok(r("User"));
        }
        ("GET", "/api/audit") => {
            d.query = query_of::<audit_log::AuditQuery>();
            d.ok = ok(array(r("AuditRecord")));
        }
        ("GET", "/api/tokens") => d.ok = ok(array(r("ApiToken"))),
        ("POST", "/api/tokens") => {
            d.body = Some(object(
                &["name"],
                json!({"name": {"type": "string", "minLength": 1, "maxLength": 64}}),
            ));
            d.ok = created(r("CreatedToken"));
        }
        ("DELETE", "/api/tokens/{id}") => d.ok = ok(r("ApiToken")),
        ("GET", "/api/openapi.json") => {
            d.ok = ok(object(
                &["openapi", "info", "paths", "components"],
                json!({"openapi": {"type": "string", "description": "3.1.0"}, "info": {"type": "object"},
                       "paths": {"type": "object"}, "components": {"type": "object"}}),
            ));
        }
        _ => return false,
    }
    true
}

/// Fuel cards: cards, profiles, stations, statements and findings.
pub(super) fn fuel(method: &str, path: &str, d: &mut Described) -> bool {
    match (method, path) {
        ("GET", "/api/fuel/cards") => d.ok = ok(array(r("FuelCard"))),
        ("PATCH", "/api/fuel/cards/{number}") => {
            d.body = Some(json!({"type": "object", "properties": {
                "vehicle": nullable(json!({"type": "integer"})), "state": r("FuelCardState"),
                "state_date": nullable(json!({"type": "string", "format": "date"})), "state_reason": {"type": "string"},
                "limit_fill_fen": nullable(json!({"type": "integer", "minimum": 1})),
                "limit_month_fen": nullable(json!({"type": "integer", "minimum": 1}))},
                "additionalProperties": false}));
            d.ok = ok(r("FuelCard"));
        }
        ("GET", "/api/fuel/profiles") => d.ok = ok(array(r("FuelProfile"))),
        ("PUT", "/api/fuel/profiles/{vehicle}") => {
            d.body = Some(object(
                &["tank_litres", "rated_l_per_100km", "fuel"],
                json!({"tank_litres": {"type": "number", "exclusiveMinimum": 0, "maximum": 1000},
                       "rated_l_per_100km": {"type": "number", "exclusiveMinimum": 0, "maximum": 100},
                       "fuel": {"type": "string", "enum": ["petrol", "diesel"]}}),
            ));
            d.ok = ok(r("FuelProfile"));
        }
        ("GET", "/api/fuel/stations") => d.ok = ok(array(r("FuelStation"))),
        ("POST", "/api/fuel/statements") => {
            d.query = query_of::<fuel::UploadQuery>();
            d.body = Some(
                json!({"type": "string", "format": "binary", "description": "The statement file: CSV (UTF-8 or GBK) or XLSX"}),
            );
            d.body_media = Some("application/octet-stream");
            d.ok = ok(r("StatementReport"));
        }
        ("GET", "/api/fuel/findings") => {
            d.query = query_of::<fuel::FindingsQuery>();
            d.ok = ok(array(r("FuelFinding")));
        }
        ("GET", "/api/fuel/report") => {
            d.query = query_of::<fuel_report::FuelReportQuery>();
            d.ok = ok(r("FuelReport"));
            d.ok_media = vec![
                ("text/csv", text()),
                (
                    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    binary(),
                ),
            ];
        }
        _ => return false,
    }
    true
}

/// The car pool, its fleet fields and the yearly figures.
pub(super) fn carpool(method: &str, path: &str, d: &mut Described) -> bool {
    match (method, path) {
        ("GET", "/api/carpool/requests") => d.ok = ok(array(r("CarRequest"))),
        ("POST", "/api/carpool/requests") => {
            d.body = Some(r("RequestFields"));
            d.ok = created(r("CarRequest"));
        }
        ("GET", "/api/carpool/requests/{id}") => d.ok = ok(r("CarRequestDetail")),
        ("GET", "/api/carpool/requests/{id}/offers") => d.ok = ok(r("CarRequestOffers")),
        ("POST", "/api/carpool/requests/{id}/assign") => {
            d.body = Some(fields_of(
                &names::<carpool::AssignBody>(),
                &["vehicle", "driver"],
                json!({"vehicle": {"type": "integer", "description": "A car offered for the window"},
                       "driver": {"type": "integer", "description": "A driver offered for the window"}}),
            ));
            d.ok = ok(object(
                &["request", "order", "notices"],
                json!({
                "request": r("CarRequest"), "order": {"type": "string", "description": "The approved dispatch order written"},
                "notices": array(r("CarNotice"))}),
            ));
        }
        ("POST", "/api/carpool/requests/{id}/settle") => {
            d.body = Some(
                json!({"type": "object", "maxProperties": 0, "description": "Nothing: the trip is settled from its track"}),
            );
            d.ok = ok(object(
                &["request", "case"],
                json!({
                "request": r("CarRequest"),
                "case": nullable(json!({"type": "integer", "description": "The case the settlement's differences opened"}))}),
            ));
        }
        ("PUT", "/api/carpool/requests/{id}/settlement") => {
            d.body = Some(fields_of(
                &names::<tianshu_model::carpool::SettlementCorrection>(),
                &[],
                json!({"km": nullable(json!({"type": "number", "minimum": 0, "description": "Corrected km; a note is then required"})),
                       "note": nullable(json!({"type": "string"}))}),
            ));
            d.ok = ok(r("CarRequest"));
        }
        ("PUT", "/api/carpool/requests/{id}/rating") => {
            d.body = Some(r("Rating"));
            d.ok = ok(r("CarRequest"));
        }
        ("POST", "/api/carpool/maintenance") => {
            d.body = Some(fields_of(
                &names::<carpool::MaintenanceBody>(),
                &["vehicle", "start", "end"],
                json!({"vehicle": {"type": "integer"}, "start": time(), "end": time(), "note": {"type": "string"}}),
            ));
            d.ok = created(json!({"type": "object", "description": "The maintenance window recorded"}));
        }
        ("GET" | "PUT", "/api/vehicles/{id}/fleet") => {
            if method == "PUT" {
                d.body = Some(r("FleetFields"));
            }
            d.ok = ok(r("FleetFields"));
        }
        ("GET", "/api/report/yearly") => {
            d.ok = ok(
                json!({"type": "object", "description": "The year's figures, one table per heading: cars by unit and class, kept and disposed, terminals installed, marking, the pool's trips and km, violations by rule; `days`: the cars' days from their daily summaries (days summarised, online share, km, trips, cases by rule); `casework`: the year's complaints and findings (the total of `GET /api/casework/summary` over the year); `fuel`: the year's fuel cards (the total of `GET /api/fuel/report`)"}),
            );
            d.ok_media = vec![
                ("text/csv", json!({"type": "string"})),
                (
                    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    binary(),
                ),
            ];
        }
        _ => return false,
    }
    true
}

fn ok(schema: Value) -> (u16, Option<Value>) {
    (200, Some(schema))
}

fn created(schema: Value) -> (u16, Option<Value>) {
    (201, Some(schema))
}

pub(super) fn none() -> (u16, Option<Value>) {
    (204, None)
}

fn binary() -> Value {
    json!({"type": "string", "format": "binary"})
}

fn text() -> Value {
    json!({"type": "string"})
}
