//! The named schemas the routes refer to, by area (the common ones, reference data, stored tracks, the
//! registry, commands and the live feed, casework, the car pool, fuel cards), merged into the
//! document's components by [`super::components`].

use super::*;

/// The common schemas: errors, roles, units, vehicles, positions, cases, users, audit records, tokens,
/// terminals and the page's configuration.
pub(super) fn base_components() -> Value {
    json!({
        "Error": object(&["error"], json!({"error": {"type": "string", "description": "What went wrong; a bad field comes first"}})),
        "Role": {"type": "string", "enum": ["administrator", "dispatcher", "inspector", "supervisor", "requester"]},
        "VehicleClass": {"type": "string", "enum": ["general", "confidential", "emergency", "law_enforcement", "special"]},
        "Me": object(&["user_id", "username", "role", "unit"], json!({
            "user_id": {"type": "integer"}, "username": {"type": "string"}, "role": r("Role"),
            "unit": nullable(json!({"type": "integer"}))})),
        "Unit": object(&["id", "name", "parent"], json!({
            "id": {"type": "integer"}, "name": {"type": "string"}, "parent": nullable(json!({"type": "integer"})),
            "reregistration_approval": {"type": "boolean"}})),
        "Vehicle": object(&["id", "plate", "unit", "class"], json!({
            "id": {"type": "integer"}, "plate": {"type": "string"}, "unit": {"type": "integer"}, "class": r("VehicleClass"),
            "marking": {"type": "string", "description": "The marking number (标识号), absent when the car has none"}})),
        "Position": object(&["vehicle", "phone", "fix_time", "receive_time", "latitude", "longitude", "altitude_m", "speed_kmh", "course_deg", "acc_on", "alarm", "alarms", "status", "status_flags", "source"], json!({
            "vehicle": {"type": "integer"},
            "phone": {"type": "string", "description": "The terminal's phone, masked but for administrators"},
            "fix_time": time(), "receive_time": time(),
            "latitude": {"type": "number", "description": "WGS-84 degrees"},
            "longitude": {"type": "number", "description": "WGS-84 degrees"},
            "speed_kmh": {"type": "number"}, "course_deg": {"type": "integer"}, "altitude_m": {"type": "integer"},
            "acc_on": {"type": "boolean", "description": "The ignition is on"},
            "alarm": {"type": "integer", "description": "The alarm word as the terminal sent it"},
            "alarms": array(json!({"type": "string", "description": "The name of an alarm bit set, e.g. power_lost"})),
            "status": {"type": "integer", "description": "The status word as the terminal sent it"},
            "status_flags": array(json!({"type": "string", "description": "The name of a status bit set, e.g. acc_on, fixed, beidou"})),
            "mileage_km": {"type": "number", "description": "The odometer, when the terminal reports it"},
            "fuel_l": {"type": "number", "description": "Fuel, litres, when the terminal reports it"},
            "satellites": {"type": "integer", "description": "Satellites in view, when the terminal reports it"},
            "rssi": {"type": "integer", "description": "Mobile signal strength, when the terminal reports it"},
            "source": variants::<tianshu_model::PositionSource>(),
            "recv_time": {"type": "string", "deprecated": true, "description": "Deprecated: receive_time"},
            "lat_deg": {"type": "number", "deprecated": true, "description": "Deprecated: latitude"},
            "lon_deg": {"type": "number", "deprecated": true, "description": "Deprecated: longitude"}})),
        "Case": {"type": "object", "required": ["id", "vehicle", "state"], "properties": {
            "id": {"type": "string"}, "vehicle": {"type": "integer"}, "state": {"type": "string"},
            "rule": {"type": "string"}, "severity": {"type": "string"}, "start": time()},
            "additionalProperties": true},
        "User": object(&["id", "username", "role", "unit", "created", "disabled"], json!({
            "id": {"type": "integer"}, "username": {"type": "string"}, "role": r("Role"),
            "unit": nullable(json!({"type": "integer"})), "created": time(), "disabled": {"type": "boolean"}})),
        "AuditRecord": object(&["seq", "time", "actor", "role", "action", "remote", "rows", "detail", "prev_hash", "hash"], json!({
            "seq": {"type": "integer"}, "time": time(), "actor": {"type": "string"}, "role": {"type": "string"},
            "action": {"type": "string"}, "vehicle": nullable(json!({"type": "integer"})),
            "from": nullable(time()), "to": nullable(time()), "remote": {"type": "string"},
            "rows": {"type": "integer"}, "detail": {"type": "string"}, "prev_hash": {"type": "string"},
            "hash": {"type": "string"}, "scheme": {"type": "string"}})),
        "ApiToken": object(&["id", "name", "created", "revoked"], json!({
            "id": {"type": "integer"}, "name": {"type": "string"}, "created": time(), "revoked": nullable(time())})),
        "CreatedToken": object(&["id", "name", "created", "revoked", "token"], json!({
            "id": {"type": "integer"}, "name": {"type": "string"}, "created": time(), "revoked": {"type": "null"},
            "token": {"type": "string", "description": "The secret, shown this once: send it as `Authorization: Bearer <token>`"}})),
        "VehicleDetail": object(&["id", "plate", "unit", "class", "latest", "driver", "order"], json!({
            "id": {"type": "integer"}, "plate": {"type": "string"}, "unit": {"type": "integer"}, "class": r("VehicleClass"),
            "latest": nullable(r("Position")), "driver": nullable(json!({"type": "string"})),
            "order": nullable(json!({"type": "object", "description": "The order or filing covering the latest fix, in the import format"}))})),
        "UnitSettings": object(&["unit", "second_person_approval"], json!({"unit": {"type": "integer"},
            "second_person_approval": {"type": "boolean", "description": "Approving a backdated or one's own order of its cars needs a second person"}})),
        "Terminal": object(&["phone", "terminal_id", "registered", "vehicle", "clock_offset_secs", "reregistrations"], json!({
            "phone": {"type": "string", "description": "Masked but for administrators"},
            "terminal_id": {"type": "string", "description": "Masked but for administrators"},
            "edition": nullable(json!({"type": "string"})), "registered": {"type": "boolean"},
            "vehicle": nullable(json!({"type": "integer"})), "clock_offset_secs": {"type": "integer"},
            "clock_offset_found_secs": nullable(json!({"type": "integer"})), "clock_offset_found_at": nullable(time()),
            "reregistrations": {"type": "integer"}, "last_reregistered": nullable(time()),
            "pending_registration": nullable(json!({"type": "object"}))})),
        "PageConfig": object(&["pmtiles_url", "glyphs_url", "tile_url", "gcj02", "attribution", "center", "zoom", "casework"], json!({
            "pmtiles_url": nullable(json!({"type": "string", "description": "The vector tiles' PMTiles archive, when one is configured"})),
            "glyphs_url": nullable(json!({"type": "string", "description": "The glyph ranges' URL template, when a glyphs directory is configured"})),
            "tile_url": {"type": "string", "description": "The raster tile URL template, or empty"}, "gcj02": {"type": "boolean"}, "attribution": {"type": "string"},
            "center": array(json!({"type": "number"})), "zoom": {"type": "number"},
            "casework": object(&["answer_days", "violation_types", "unmask_roles", "measures"], json!({
                "answer_days": {"type": "integer"}, "violation_types": array(json!({"type": "string"})),
                "unmask_roles": array(json!({"type": "string"})), "measures": array(json!({"type": "string"}))}))})),
    })
}

/// The schemas of the reference data: geofences, timetables, the holiday calendar, orders.
pub(super) fn reference_components() -> Value {
    json!({
        "FeatureCollection": object(&["type", "features"], json!({
            "type": {"type": "string", "enum": ["FeatureCollection"]},
            "features": array(r("Feature"))})),
        "Feature": object(&["type", "geometry", "properties"], json!({
            "type": {"type": "string", "enum": ["Feature"]}, "id": {"type": "integer"},
            "geometry": {"type": "object"}, "properties": {"type": "object"}, "updated": time()})),
        "UnitTimetable": object(&["unit", "source", "timetable"], json!({
            "unit": {"type": "integer"},
            "source": {"type": "string", "enum": ["own", "inherited", "configuration"],
                "description": "Stored for this unit, stored for the nearest ancestor that has one, or the server's configuration"},
            "from_unit": {"type": "integer", "description": "The unit whose timetable applies (absent for the city default)"},
            "from_path": {"type": "string"},
            "timetable": r("TimetableBody"), "updated": time()})),
        "CalendarYear": object(&["year", "source", "holidays"], json!({
            "year": {"type": "integer"}, "source": {"type": "string"}, "updated": nullable(time()),
            "notice": {"type": "string"},
            "holidays": array(object(&["name", "first", "last", "working"], json!({
                "name": {"type": "string"}, "name_en": {"type": "string"},
                "first": {"type": "string", "format": "date"}, "last": {"type": "string", "format": "date"},
                "working": array(json!({"type": "string", "format": "date"}))})))})),
        "Order": {"type": "object", "required": ["id", "kind", "plate", "start", "end", "state", "version"], "properties": {
            "id": {"type": "string"}, "kind": {"type": "string", "enum": ["order", "filing"]}, "plate": {"type": "string"},
            "driver": nullable(json!({"type": "string"})), "purpose": nullable(json!({"type": "string"})),
            "filed_by": nullable(json!({"type": "string"})), "start": time(), "end": time(),
            "state": {"type": "string", "enum": ["requested", "approved", "cancelled", "completed"]},
            "version": {"type": "integer", "description": "Send it back (body or If-Match) with a change"},
            "updated": time()}, "additionalProperties": true},
    })
}

/// The schemas of stored tracks: replays, trips and stops, the monthly reports.
pub(super) fn tracking_components() -> Value {
    let figures = json!({
        "points": {"type": "integer"},
        "trips": {"type": "integer"},
        "distance_km": {"type": "number", "description": "From the fixes, to 0.1 km"},
        "odometer_km": nullable(json!({"type": "number"})),
        "hours_in_use": {"type": "number", "description": "The trips' durations, to 0.01 h"},
        "days_used": {"type": "integer"},
        "violations": {"type": "object", "additionalProperties": {"type": "integer"}, "description": "Cases that started in the month, by rule"},
        "cases_by_state": {"type": "object", "additionalProperties": {"type": "integer"}},
        "per_day": array(r("Day")),
    });
    let figure_names = [
        "points",
        "trips",
        "distance_km",
        "odometer_km",
        "hours_in_use",
        "days_used",
        "violations",
        "cases_by_state",
        "per_day",
    ];
    let with_figures = |required: &[&str], extra: Value| {
        let mut props = figures.clone();
        if let (Some(p), Value::Object(e)) = (props.as_object_mut(), extra) {
            p.extend(e);
        }
        let mut all: Vec<&str> = figure_names.to_vec();
        all.extend_from_slice(required);
        object(&all, props)
    };
    let titles = json!({"type": "object", "additionalProperties": object(&["zh", "en"], json!({"zh": {"type": "string"}, "en": {"type": "string"}}))});
    json!({
        "TripsAndStops": object(&["vehicle", "from", "to", "points", "trips", "stops"], json!({
            "vehicle": r("Vehicle"), "from": time(), "to": time(), "points": {"type": "integer"},
            "trips": array(r("Trip")),
            "stops": array(r("Stop"))})),
        "Stop": object(&["from", "to", "latitude", "longitude", "idling"], json!({
            "from": time(), "to": time(), "latitude": {"type": "number"}, "longitude": {"type": "number"},
            "idling": {"type": "boolean", "description": "The ignition stayed on throughout"},
            "lon_deg": {"type": "number", "deprecated": true}, "lat_deg": {"type": "number", "deprecated": true}})),
        "Trip": object(&["from", "to", "distance_m", "max_kmh"], json!({
            "from": time(), "to": time(), "distance_m": {"type": "number"}, "max_kmh": {"type": "number"}})),
        "Replay": object(&["vehicle", "from", "to", "total_points", "columns", "points", "stops", "trips", "cases"], json!({
            "vehicle": r("Vehicle"), "from": time(), "to": time(), "total_points": {"type": "integer"},
            "columns": array(json!({"type": "string", "enum": REPLAY_COLUMNS,
                "description": "The names of the points' values, units in the names"})),
            "points": array(json!({"type": "array", "description": "One point, its values in the order of `columns`"})),
            "stops": array(r("Stop")), "trips": array(r("Trip")), "cases": array(r("Case"))})),
        "Day": object(&["date", "trips", "distance_km", "hours_in_use"], json!({
            "date": {"type": "string", "format": "date"}, "trips": {"type": "integer"},
            "distance_km": {"type": "number"}, "hours_in_use": {"type": "number"}})),
        "MonthlyReport": with_figures(&["vehicle", "month", "from", "to", "rule_titles"], json!({
            "vehicle": r("Vehicle"), "month": {"type": "string"}, "from": time(), "to": time(), "rule_titles": titles})),
        "UnitReport": object(&["unit", "month", "from", "to", "vehicles", "totals", "cars", "rule_titles"], json!({
            "unit": r("Unit"), "month": {"type": "string"}, "from": time(), "to": time(),
            "vehicles": {"type": "integer"}, "totals": with_figures(&[], json!({})),
            "cars": array(with_figures(&["vehicle"], json!({"vehicle": r("Vehicle")}))),
            "rule_titles": titles})),
    })
}

/// The schemas of the car pool's routes.
pub(super) fn carpool_components() -> Value {
    use tianshu_model::carpool::{
        DisposalHow, LicenceClass, MarkingStatus, Ownership, RequestState, ServiceKind, TerminalStatus,
    };
    let place = object(
        &["name", "lon", "lat"],
        json!({
        "name": {"type": "string"}, "lon": {"type": "number", "description": "WGS-84 degrees"},
        "lat": {"type": "number", "description": "WGS-84 degrees"}}),
    );
    let request_fields = fields_of(
        &names::<tianshu_model::carpool::RequestFields>(),
        &[
            "start",
            "end",
            "from",
            "destinations",
            "passengers",
            "purpose",
            "kind",
        ],
        json!({"unit": nullable(json!({"type": "integer", "description": "The unit asking (a requester's own by default)"})),
               "start": time(), "end": time(), "from": place.clone(), "destinations": array(place.clone()),
               "passengers": {"type": "integer", "minimum": 1}, "purpose": {"type": "string"},
               "kind": variants::<ServiceKind>(),
               "class": nullable(variants::<tianshu_model::VehicleClass>())}),
    );
    let request = json!({
        "id": {"type": "integer"}, "unit": {"type": "integer"}, "requester": {"type": "string"},
        "state": variants::<RequestState>(), "created": time(), "fields": r("RequestFields"),
        "assignment": nullable(object(&["vehicle", "plate", "driver", "order", "by", "at"], json!({
            "vehicle": {"type": "integer"}, "plate": {"type": "string"}, "driver": {"type": "integer"},
            "order": {"type": "string"}, "by": {"type": "string"}, "at": time()}))),
        "settlement": nullable(object(&["km", "route_km", "destinations", "outside_corridor_s", "idle_s", "differences"], json!({
            "departure": nullable(time()), "returned": nullable(time()),
            "km": {"type": "number", "description": "Driven, from the track"}, "route_km": {"type": "number"},
            "destinations": array(object(&["name"], json!({"name": {"type": "string"}, "at": nullable(time())}))),
            "outside_corridor_s": {"type": "integer"}, "idle_s": {"type": "integer"},
            "differences": array(json!({"type": "string"})),
            "confirmed_by": nullable(json!({"type": "string"})), "note": nullable(json!({"type": "string"}))}))),
        "rating": nullable(r("Rating"))});
    let required = ["id", "unit", "requester", "state", "created", "fields"];
    let mut detail = request.clone();
    detail["notices"] = array(r("CarNotice"));
    let mut offers = request.clone();
    offers["cars"] = array(
        json!({"type": "object", "description": "A car free for the whole window: vehicle, plate, unit, class, licence_needed, position, distance_m to the pickup"}),
    );
    offers["drivers"] = array(json!({"type": "object", "description": "A driver free for the whole window"}));
    offers["suggested"] =
        nullable(json!({"type": "object", "description": "The nearest suitable car and a driver for it"}));
    json!({
        "RequestFields": request_fields,
        "CarRequest": object(&required, request),
        "CarRequestDetail": object(&required, detail),
        "CarRequestOffers": json!({"type": "object", "description": "The request and what is free for its window",
            "properties": {"request": r("CarRequest"), "cars": offers["cars"], "drivers": offers["drivers"], "suggested": offers["suggested"]}}),
        "Rating": fields_of(
            &names::<tianshu_model::carpool::Rating>(),
            &["stars"],
            json!({"stars": {"type": "integer", "minimum": 1, "maximum": 5},
                   "note": nullable(json!({"type": "string", "maxLength": 500}))}),
        ),
        "CarNotice": object(&["to", "text"], json!({"to": {"type": "string"}, "text": {"type": "string"}})),
        "FleetFields": fields_of(
            &names::<tianshu_model::carpool::FleetFields>(),
            &[],
            json!({"licence_needed": variants::<LicenceClass>(), "ownership": variants::<Ownership>(),
                   "disposed_on": nullable(json!({"type": "string", "format": "date"})),
                   "disposal": nullable(variants::<DisposalHow>()),
                   "marking_status": variants::<MarkingStatus>(),
                   "marking_exempt_reason": nullable(json!({"type": "string"})),
                   "terminal_status": variants::<TerminalStatus>(),
                   "terminal_exempt_reason": nullable(json!({"type": "string"}))}),
        ),
    })
}

/// The schemas of the fuel-card routes.
pub(super) fn fuel_components() -> Value {
    let figures = [
        "cards_used",
        "fills",
        "litres_cl",
        "amount_fen",
        "findings",
        "flagged_fills",
        "at_stake_fen",
        "cancelled",
        "suspended",
        "recovered_fen",
    ];
    let figure_props = json!({
        "cards_used": {"type": "integer"}, "fills": {"type": "integer"},
        "litres_cl": {"type": "integer", "description": "Centilitres"}, "amount_fen": {"type": "integer"},
        "findings": {"type": "object", "description": "Findings by check id", "additionalProperties": {"type": "integer"}},
        "flagged_fills": {"type": "integer"},
        "at_stake_fen": {"type": "integer", "description": "Per flagged fill, its largest finding's"},
        "cancelled": {"type": "integer"}, "suspended": {"type": "integer"},
        "recovered_fen": {"type": "integer", "description": "Recovered by the findings of fuel cases decided in the month"}});
    let mut row_props = figure_props.clone();
    row_props["unit"] = json!({"type": "integer"});
    row_props["month"] = json!({"type": "string", "description": "YYYY-MM, China time"});
    let row_required: Vec<&str> = figures.iter().copied().chain(["unit", "month"]).collect();
    json!({
        "FuelFigures": object(&figures, figure_props),
        "FuelReport": object(&["year", "total", "rows", "unit_names"], json!({
            "year": {"type": "integer"}, "total": r("FuelFigures"), "rows": array(object(&row_required, row_props)),
            "unit_names": {"type": "object", "description": "Each row's unit path by id", "additionalProperties": {"type": "string"}}})),
        "FuelCardState": {"type": "string", "enum": ["active", "suspended", "cancelled"]},
        "FuelCard": object(&["number", "issuer", "unit", "vehicle", "state", "state_date", "state_reason", "limit_fill_fen", "limit_month_fen"], json!({
            "number": {"type": "string"}, "issuer": {"type": "string", "enum": tianshu_model::fuel::Issuer::ALL.iter().map(|i| i.as_str()).collect::<Vec<_>>()},
            "unit": {"type": "integer"}, "vehicle": nullable(json!({"type": "integer", "description": "null: a pool card"})),
            "state": r("FuelCardState"), "state_date": nullable(json!({"type": "string", "format": "date"})),
            "state_reason": {"type": "string"},
            "limit_fill_fen": nullable(json!({"type": "integer", "description": "Fen (0.01 yuan)"})),
            "limit_month_fen": nullable(json!({"type": "integer", "description": "Fen (0.01 yuan)"}))})),
        "FuelProfile": object(&["tank_litres", "rated_l_per_100km", "fuel"], json!({
            "vehicle": {"type": "integer"}, "tank_litres": {"type": "number"}, "rated_l_per_100km": {"type": "number"},
            "fuel": {"type": "string", "enum": ["petrol", "diesel"]}})),
        "FuelStation": object(&["code", "name", "brand", "position"], json!({
            "code": {"type": "string"}, "name": {"type": "string"}, "brand": {"type": "string"},
            "position": object(&["lon", "lat"], json!({"lon": {"type": "number", "description": "WGS-84 degrees"}, "lat": {"type": "number", "description": "WGS-84 degrees"}}))})),
        "RowError": object(&["line", "column", "reason"], json!({
            "line": {"type": "integer"}, "column": nullable(json!({"type": "string", "description": "The header as written, with its 1-based position"})),
            "reason": {"type": "string"}})),
        "StatementReport": object(&["format", "encoding", "stored", "duplicates", "errors", "findings", "cases_opened"], json!({
            "format": {"type": "string"}, "encoding": nullable(json!({"type": "string", "enum": ["utf8", "gbk"]})),
            "stored": {"type": "integer"}, "duplicates": {"type": "integer"}, "errors": array(r("RowError")),
            "findings": {"type": "integer"}, "cases_opened": {"type": "integer"}})),
        "FuelFinding": object(&["transaction_id", "check", "severity", "at_stake_fen", "reason", "reason_zh", "evidence", "unit", "time", "case_id"], json!({
            "transaction_id": {"type": "integer"},
            "check": {"type": "string", "enum": tianshu_rules::fuel::Check::ALL.map(|c| c.as_str())},
            "severity": {"type": "string", "enum": ["low", "medium", "high"]}, "at_stake_fen": {"type": "integer"},
            "reason": {"type": "string"}, "reason_zh": {"type": "string"},
            "evidence": {"type": "object", "description": "Distances, the car's positions around the fill (WGS-84), figures"},
            "unit": {"type": "integer"}, "time": time(), "case_id": nullable(json!({"type": "integer"}))})),
    })
}

/// The schemas of the drivers, alert channels, orders, geofences and timetables.
pub(super) fn registry_components() -> Value {
    use tianshu_model::driver::{Driver, DriverFields};
    use tianshu_rules::channels::{ChannelFields, ChannelKind, ConfiguredChannel, WebhookFormat};
    let driver = json!({
        "name": {"type": "string", "minLength": 1, "maxLength": 50},
        "certificate": {"type": "string", "pattern": "^[0-9A-Za-z-]{1,40}$",
            "description": "The qualification certificate's number, the number a card sign-in reports; unique"},
        "phone": nullable(json!({"type": "string", "description": "5 to 20 digits, optionally after a +"})),
        "unit": {"type": "integer", "description": "The unit whose cars they drive"},
        "licence": nullable(variants::<tianshu_model::carpool::LicenceClass>()),
        "active": {"type": "boolean", "description": "Offered for the car pool's trips (default true)"}});
    let with_id = |fields: &[&'static str]| {
        let mut all = vec!["id"];
        all.extend_from_slice(fields);
        all
    };
    let driver_fields = names::<DriverFields>();
    let mut driver_answer = driver.clone();
    driver_answer["id"] = json!({"type": "integer"});
    debug_assert!(field_names::<Driver>().is_none(), "Driver flattens its fields");
    let channel = json!({
        "name": {"type": "string", "minLength": 1, "maxLength": 60, "description": "Unique among channels, the configured webhooks' names included"},
        "kind": variants::<ChannelKind>(),
        "url": nullable(json!({"type": "string", "description": "webhook: an http:// or https:// URL (a robot's carries its token)"})),
        "format": variants::<WebhookFormat>(),
        "address": nullable(json!({"type": "string", "description": "email: the address"})),
        "units": {"type": "array", "items": {"type": "integer"}, "description": "The units whose cases it is sent (with their sub-units); empty = every case"},
        "min_severity": variants::<tianshu_rules::Severity>(),
        "enabled": {"type": "boolean"}});
    let channel_fields = names::<ChannelFields>();
    let mut channel_answer = channel.clone();
    channel_answer["id"] = json!({"type": "integer"});
    let period = json!({"type": "string", "pattern": "^[0-9]{2}:[0-9]{2}-[0-9]{2}:[0-9]{2}$", "description": "Office hours, local HH:MM-HH:MM, end exclusive"});
    let month_day = json!({"type": "string", "pattern": "^[0-9]{2}-[0-9]{2}$"});
    let timetable = fields_of(
        &names::<tianshu_rules::timetable::UnitTimetableBody>(),
        &["periods"],
        json!({"periods": array(period.clone()),
               "seasons": array(fields_of(
                   &names::<tianshu_rules::timetable::Season>(),
                   &["name", "from", "to", "periods"],
                   json!({"name": {"type": "string"}, "from": month_day, "to": month_day, "periods": array(period)})))}),
    );
    let order = fields_of(
        &names::<tianshu_rules::orders::Order>(),
        &["id", "kind", "plate", "start", "end", "state"],
        json!({"id": {"type": "string"}, "kind": variants::<tianshu_rules::orders::OrderKind>(), "plate": {"type": "string"},
               "driver": nullable(json!({"type": "string"})), "purpose": nullable(json!({"type": "string"})),
               "start": time(), "end": time(),
               "destinations": array(fields_of(
                   &names::<tianshu_rules::orders::Destination>(),
                   &["name", "lon", "lat"],
                   json!({"name": {"type": "string"}, "lon": {"type": "number"}, "lat": {"type": "number"}}))),
               "route": nullable(fields_of(
                   &names::<tianshu_rules::orders::LineString>(),
                   &["type", "coordinates"],
                   json!({"type": {"type": "string", "enum": ["LineString"]},
                          "coordinates": array(array(json!({"type": "number"})))}))),
               "corridor_m": nullable(json!({"type": "number", "description": "How far from the route the car may be, metres"})),
               "state": variants::<tianshu_rules::orders::OrderState>(),
               "allow_region_exit": {"type": "boolean"},
               "filed_by": nullable(json!({"type": "string"})), "approved_by": nullable(json!({"type": "string"}))}),
    );
    json!({
        "DriverFields": fields_of(&driver_fields, &["name", "certificate", "unit"], driver),
        "Driver": fields_of(&with_id(&driver_fields), &with_id(&driver_fields), driver_answer),
        "DriverImport": object(&["created", "updated", "unchanged"], json!({
            "created": {"type": "integer", "minimum": 0}, "updated": {"type": "integer", "minimum": 0},
            "unchanged": {"type": "integer", "minimum": 0, "description": "Rows that matched their driver already"}})),
        "ChannelFields": fields_of(&channel_fields, &["name", "kind"], channel),
        "Channel": fields_of(&with_id(&channel_fields), &with_id(&channel_fields), channel_answer),
        "ConfiguredChannel": fields_of(&names::<ConfiguredChannel>(), &names::<ConfiguredChannel>(), json!({
            "name": {"type": "string", "description": "The webhook's name, or the e-mail address"},
            "kind": variants::<ChannelKind>(),
            "url": nullable(json!({"type": "string"})),
            "url_env": nullable(json!({"type": "string", "description": "The environment variable the URL is read from (the URL is not shown)"})),
            "format": variants::<WebhookFormat>(),
            "address": nullable(json!({"type": "string"})),
            "units": array(json!({"type": "string", "description": "A unit path"})),
            "min_severity": variants::<tianshu_rules::Severity>()})),
        "ChannelList": object(&["stored", "configured"], json!({
            "stored": array(r("Channel")),
            "configured": array(r("ConfiguredChannel"))})),
        "TimetableBody": timetable,
        "OrderImport": order,
        "FenceFeature": object(&["type", "geometry", "properties"], json!({
            "type": {"type": "string", "enum": ["Feature"]},
            "geometry": object(&["type", "coordinates"], json!({
                "type": {"type": "string", "enum": ["Polygon", "MultiPolygon"]},
                "coordinates": {"type": "array", "description": "[lon, lat] rings, WGS-84"}})),
            "properties": object(&["name", "kind"], json!({
                "name": {"type": "string"}, "kind": variants::<tianshu_rules::fences::FenceKind>(),
                "unit": {"type": "string", "description": "depot: the unit path"},
                "category": {"type": "string"},
                "speed_limit_kmh": {"type": "number", "exclusiveMinimum": 0, "maximum": 300, "description": "speed_zone: its limit"},
                "description": {"type": "string", "description": "Free text, kept by editors, ignored"}}))})),
    })
}

/// The schemas of the terminal commands and their outcomes, and of the live feed.
pub(super) fn command_components() -> Value {
    let position = r("Position");
    let parameter = fields_of(
        &names::<commands::ParameterEntry>(),
        &["id"],
        json!({"id": {"type": "integer", "description": "The parameter id (0x0001 heartbeat interval, 0x0013 main server, 0x0055 maximum speed...)"},
               "value": {"anyOf": [{"type": "integer", "minimum": 0}, {"type": "string"}],
                   "description": "A number for a BYTE, WORD or DWORD parameter, a string for a STRING one"},
               "hex": {"type": "string", "description": "The value's bytes in hex: always in an answer; in a request, instead of value"}}),
    );
    let command =
        |kind: &str, required: &[&str], properties: Value| tagged("kind", kind, required, properties);
    let outcome =
        |name: &str, required: &[&str], properties: Value| tagged("outcome", name, required, properties);
    json!({
        "ParameterEntry": parameter,
        "TerminalCommand": {"anyOf": [
            command("query_position", &[], json!({})),
            command("temporary_tracking", &["interval_secs", "duration_secs"], json!({
                "interval_secs": {"type": "integer", "minimum": 0, "maximum": 65535},
                "duration_secs": {"type": "integer", "minimum": 0}})),
            command("text", &["text"], json!({"text": {"type": "string", "minLength": 1, "description": "Shown and spoken to the driver (sent as GBK)"}})),
            command("query_parameters", &[], json!({"ids": {"type": "array", "items": {"type": "integer"}, "minItems": 1, "maxItems": 255,
                "description": "The parameters to ask for; absent asks for all"}})),
            command("set_parameters", &["parameters"], json!({"parameters": {"type": "array", "items": r("ParameterEntry"), "minItems": 1, "maxItems": 255,
                "description": "Administrators only"}})),
            command("query_attributes", &[], json!({}))],
            "description": "A downlink command, by `kind`"},
        "CommandOutcome": {"anyOf": [
            outcome("answered", &[], json!({
                "position": position, "parameters": array(r("ParameterEntry")),
                "attributes": {"type": "object", "description": "The terminal's attributes: terminal_type, maker_id, model, terminal_id, iccid, hardware_version, firmware_version, gnss, network"}})),
            outcome("refused", &["result"], json!({"result": {"type": "integer", "description": "The terminal's result code: 1 failed, 2 wrong message, 3 not supported"}}))],
            "description": "What the terminal answered"},
        "CommandFailure": object(&["error", "outcome"], json!({
            "error": {"type": "string"},
            "outcome": {"type": "string", "enum": ["not_connected", "timed_out"]}})),
        "LiveMessage": {"anyOf": [
            object(&["type", "vehicles", "positions"], json!({
                "type": {"type": "string", "enum": ["snapshot"]},
                "vehicles": array(r("Vehicle")), "positions": array(r("Position"))})),
            object(&["type", "points"], json!({
                "type": {"type": "string", "enum": ["positions"]}, "points": array(r("Position"))})),
            object(&["type", "alert"], json!({
                "type": {"type": "string", "enum": ["alert"]},
                "alert": {"type": "object", "required": ["vehicle", "severity"], "properties": {
                    "vehicle": {"type": "integer"}, "severity": {"type": "string"}},
                    "additionalProperties": true, "description": "The vehicle, severity, and the rule, case id, time and text"}}))],
            "description": "One message of the live feed, by `type`"},
    })
}

/// The schemas of the office's casework: complaints, their steps and evidence, findings, the figures.
pub(super) fn casework_components() -> Value {
    use tianshu_model::complaint::{
        Accountable, Channel, Complaint, ComplaintEvent, ComplaintState, Finding, FindingOutcome, Measure,
        NamedCar,
    };
    let maybe = |t: &str| nullable(json!({ "type": t }));
    let complaint = names::<Complaint>();
    let mut view = complaint.clone();
    view.extend(["overdue", "history"]);
    let mut shown = complaint.clone();
    shown.push("overdue");
    let accountable = fields_of(
        &names::<Accountable>(),
        &["name", "measure"],
        json!({"name": {"type": "string"}, "post": {"type": "string"}, "unit": {"type": "string"},
               "measure": variants::<Measure>()}),
    );
    json!({
        "Complaint": fields_of(&view, &shown, json!({
            "id": {"type": "integer"}, "received": time(), "channel": variants::<Channel>(),
            "reporter_name": maybe("string"),
            "reporter_phone": nullable(json!({"type": "string", "description": "Masked (GET /api/complaints/{id}/reporter gives it in clear); absent for a unit's supervisor"})),
            "text": {"type": "string"}, "place": {"type": "string"},
            "window_from": nullable(time()), "window_to": nullable(time()),
            "cars": array(fields_of(&names::<NamedCar>(), &["text", "vehicle", "plate", "unit"], json!({
                "text": {"type": "string", "description": "As written"}, "vehicle": maybe("integer"),
                "plate": maybe("string"), "unit": maybe("integer"),
                "candidates": {"type": "array", "items": {"type": "string"}, "description": "Plates it could be, when more than one"}}))),
            "unresolved": {"type": "boolean", "description": "A named car was not found"},
            "state": variants::<ComplaintState>(), "unit": maybe("integer"),
            "deadline": nullable(time()), "forwarded": nullable(time()), "answered": nullable(time()),
            "answered_in_time": maybe("boolean"), "replied": nullable(time()), "escalated": nullable(time()),
            "cases": array(json!({"type": "integer"})), "entered_by": {"type": "string"}, "updated": time(),
            "overdue": {"type": "boolean", "description": "Its deadline passed without an answer"},
            "history": array(fields_of(&names::<ComplaintEvent>(), &names::<ComplaintEvent>(), json!({
                "time": time(), "actor": {"type": "string"}, "action": {"type": "string"}, "note": {"type": "string"}})))})),
        "ComplaintPage": object(&["total", "items"], json!({"total": {"type": "integer"}, "items": array(r("Complaint"))})),
        "NewComplaint": fields_of(&names::<complaints::NewComplaintBody>(), &["channel", "text"], json!({
            "received": {"type": "string", "format": TIME, "description": "Default: now"},
            "channel": variants::<Channel>(),
            "reporter_name": {"type": "string", "description": "Absent: anonymous"},
            "reporter_phone": {"type": "string", "description": "Stored sealed, shown masked"},
            "text": {"type": "string", "minLength": 1}, "place": {"type": "string"},
            "plates": {"type": "array", "items": {"type": "string"}, "description": "Whole or partial plates, resolved fuzzily"},
            "window_from": time(), "window_to": time()})),
        "ComplaintStep": fields_of(&names::<complaints::StepBody>(), &[], json!({
            "text": {"type": "string", "description": "answer, reply, send back: what was said"},
            "unit": {"type": "integer", "description": "forward: the unit (default: the first named car's)"},
            "days": {"type": "integer", "minimum": 0, "description": "forward: working days to answer"},
            "deadline": {"type": "string", "format": TIME, "description": "forward, send back: an explicit deadline"},
            "how": {"type": "string", "description": "reply: how the reporter was answered"},
            "decision": {"type": "string", "enum": ["accept", "send_back"], "description": "review"}})),
        "Reporter": object(&["name", "phone"], json!({"name": maybe("string"), "phone": maybe("string")})),
        "Evidence": object(&["complaint", "from", "to", "cars", "unresolved"], json!({
            "complaint": {"type": "integer"}, "from": nullable(time()), "to": nullable(time()),
            "cars": array(object(&["vehicle", "plate", "at_time", "points", "line", "replay", "orders", "cases"], json!({
                "vehicle": {"type": "integer"}, "plate": {"type": "string"},
                "at_time": nullable(r("Position")),
                "points": {"type": "integer", "description": "Stored points in the window"},
                "line": array(array(json!({"type": "number"}))),
                "replay": {"type": "string", "description": "The replay's address for the window"},
                "orders": array(json!({"type": "object", "description": "An order or filing covering the window, as GET /api/orders lists it"})),
                "cases": array(json!({"type": "object", "required": ["id", "vehicle", "state"], "description": "An alert case raised in the window"}))}))),
            "unresolved": array(json!({"type": "string", "description": "A named car not found, as written"}))})),
        "Accountable": accountable,
        "FindingBody": fields_of(&names::<casework::FindingBody>(), &["outcome"], json!({
            "outcome": variants::<FindingOutcome>(),
            "violation": {"type": "string", "description": "confirmed: the violation type, one of [web.casework] violation_types"},
            "people": {"type": "array", "items": r("Accountable"), "description": "confirmed: the people held to account"},
            "recovered_yuan": {"type": "number", "minimum": 0, "description": "Amount recovered, yuan, two decimals at most"},
            "decided": {"type": "string", "format": "date", "description": "YYYY-MM-DD, default today"},
            "note": {"type": "string"}})),
        "Finding": fields_of(&names::<Finding>(), &names::<Finding>(), json!({
            "case_id": {"type": "integer"}, "outcome": variants::<FindingOutcome>(), "violation": maybe("string"),
            "people": array(r("Accountable")), "recovered_fen": {"type": "integer", "description": "Amount recovered, fen"},
            "decided": {"type": "string", "format": "date"}, "note": {"type": "string"},
            "unit": {"type": "integer", "description": "The car's unit"}, "recorded_by": {"type": "string"},
            "recorded": time()})),
    })
}

/// The schemas of the casework figures.
pub(super) fn casework_summary_components() -> Value {
    let maybe = |t: &str| nullable(json!({ "type": t }));
    let figures = json!({
        "received": {"type": "integer"}, "forwarded": {"type": "integer"},
        "answered_in_time": {"type": "integer"}, "overdue": {"type": "integer"}, "replied": {"type": "integer"},
        "findings": {"type": "integer"}, "confirmed": {"type": "integer"},
        "confirmed_by_type": {"type": "object", "additionalProperties": {"type": "integer"}},
        "people": {"type": "integer", "description": "People held to account"},
        "sanctioned": {"type": "integer", "description": "Party or administrative sanctions"},
        "judiciary": {"type": "integer", "description": "Referred to the judiciary"},
        "recovered_fen": {"type": "integer", "description": "Amount recovered, fen"}});
    let figure_names: Vec<String> = figures
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    let figure_names: Vec<&str> = figure_names.iter().map(String::as_str).collect();
    let mut row = figures.clone();
    row["unit"] = maybe("integer");
    row["unit_name"] = maybe("string");
    row["month"] = json!({"type": "string", "description": "YYYY-MM"});
    let mut row_names = figure_names.clone();
    row_names.extend(["unit", "unit_name", "month"]);
    json!({
        "CaseworkSummary": object(&["total", "rows"], json!({
            "total": object(&figure_names, figures),
            "rows": array(object(&row_names, row))})),
    })
}
