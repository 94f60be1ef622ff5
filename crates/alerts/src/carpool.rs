//! The car pool's notices through the alert channels, and its trips settled by themselves.
//!
//! An assignment tells the requester (the channels of the unit served: webhooks in any format, e-mail)
//! and the driver: there is no SMS channel kind, so the driver's text goes to the generic-format
//! webhooks (an SMS gateway behind one) with the driver's phone as the recipient and in the body. The
//! case a settlement opens reaches the car's unit's supervisors like any case. Both are queued by the
//! store in the transaction that writes them ([`tianshu_store::carpool_trips::NoticeRoute`]).
//!
//! The settlement pass looks at every assigned trip whose window started, reads its committed track
//! and settles the ones due (`tianshu_rules::carpool_due`): the car back in its depot, or the window
//! over by more than a return may be late. The request's state moves under its row lock, so a trip is
//! settled once, whoever (the pass again after a restart, a dispatcher) comes second.

use std::sync::Arc;

use serde::Serialize;
use tianshu_model::carpool::{CarRequest, RequestState};
use tianshu_model::case::NewCase;
use tianshu_model::{Timestamp, UnitId};
use tianshu_rules::carpool_due::{at_home, settle_due, settlement_due};
use tianshu_rules::{RulesConfig, Severity};
use tianshu_store::Store;
use tianshu_store::access::{Audit, AuditEntry};
use tianshu_store::carpool::Settled;
use tianshu_store::carpool_trips::{NoticeRoute, Router};
use tianshu_store::rules::NewDelivery;

use crate::Error;
use crate::config::{AlertsConfig, WebhookFormat};
use crate::notify::{Bodies, EmailBody, Routing};

/// How severe a car-pool notice is for a channel's `min_severity`: as severe as a case can be (a trip's
/// requester and driver are always told).
pub const CARPOOL_SEVERITY: Severity = Severity::High;

/// A car-pool notice as a generic webhook carries it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CarpoolNotice {
    /// Always `carpool`.
    pub kind: &'static str,
    /// `assigned`.
    pub event: &'static str,
    /// The request.
    pub request_id: i64,
    /// The dispatch order that covers the trip.
    pub order: String,
    /// The car.
    pub plate: String,
    /// `requester:<username>`, or the driver's phone.
    pub to: String,
    /// The driver's phone, for an SMS gateway; none in the requester's notice.
    pub phone: Option<String>,
    /// The text.
    pub text: String,
}

fn markdown(n: &CarpoolNotice) -> String {
    format!("### 【天枢】用车派车通知\n\n{}", n.text)
}

fn webhook_body(n: &CarpoolNotice, format: WebhookFormat) -> String {
    let v = match format {
        WebhookFormat::Generic => serde_json::to_value(n).unwrap_or_default(),
        WebhookFormat::Dingtalk => serde_json::json!({
            "msgtype": "markdown",
            "markdown": { "title": "天枢：用车派车通知", "text": markdown(n) }
        }),
        WebhookFormat::Wecom => {
            serde_json::json!({ "msgtype": "markdown", "markdown": { "content": markdown(n) } })
        }
    };
    v.to_string()
}

fn email_body(n: &CarpoolNotice) -> String {
    let body = EmailBody {
        subject: format!("【天枢】用车申请 {} 已派车：{}", n.request_id, n.plate),
        body: format!(
            "{}\n\nCar request {}: {} assigned (order {}).\n",
            n.text, n.request_id, n.plate, n.order
        ),
    };
    serde_json::to_string(&body).unwrap_or_default()
}

/// The alerts' routing as the store's [`NoticeRoute`].
pub struct CarpoolRoute {
    routing: Routing,
    config: AlertsConfig,
    now: Timestamp,
}

impl CarpoolRoute {
    /// The routing as it is in the store now.
    pub async fn load(store: &Store, config: &AlertsConfig, now: Timestamp) -> Result<Self, Error> {
        Ok(CarpoolRoute {
            routing: Routing::load(store).await?,
            config: config.clone(),
            now,
        })
    }
}

impl NoticeRoute for CarpoolRoute {
    fn assignment(&self, request: &CarRequest, notices: &[(String, String)]) -> Vec<NewDelivery> {
        let Some(a) = &request.assignment else {
            return Vec::new();
        };
        let car_unit = self.routing.vehicle(a.vehicle).map(|v| v.unit);
        let mut out = Vec::new();
        for (to, text) in notices {
            let phone = to.strip_prefix("driver:").map(str::to_string);
            let notice = CarpoolNotice {
                kind: "carpool",
                event: "assigned",
                request_id: request.id,
                order: a.order.clone(),
                plate: a.plate.clone(),
                to: phone.clone().unwrap_or_else(|| to.clone()),
                phone: phone.clone(),
                text: text.clone(),
            };
            let (units, bodies): (Vec<UnitId>, Bodies<'_>) = match &phone {
                // The driver's text: only a generic webhook (an SMS gateway) carries it.
                Some(_) => (
                    [Some(request.unit), car_unit].into_iter().flatten().collect(),
                    Bodies {
                        webhook: &|f| (f == WebhookFormat::Generic).then(|| webhook_body(&notice, f)),
                        email: &|| None,
                    },
                ),
                None => (
                    vec![request.unit],
                    Bodies {
                        webhook: &|f| Some(webhook_body(&notice, f)),
                        email: &|| Some(email_body(&notice)),
                    },
                ),
            };
            let mut ds = self
                .routing
                .route(&units, CARPOOL_SEVERITY, &self.config, &bodies);
            if let Some(phone) = &phone {
                for d in &mut ds {
                    d.recipient = phone.clone();
                }
            }
            out.extend(ds);
        }
        out
    }

    fn case(&self, case: &NewCase) -> Vec<NewDelivery> {
        crate::runtime::opened(&self.routing, &self.config, case, self.now).1
    }
}

/// The router of the car pool's notices: the channels as stored at the time of each assignment or
/// settlement.
pub fn router(store: Store, config: AlertsConfig) -> Router {
    let config = Arc::new(config);
    Arc::new(move |now| {
        let (store, config) = (store.clone(), config.clone());
        Box::pin(async move {
            let route = CarpoolRoute::load(&store, &config, now)
                .await
                .map_err(|e| e.to_string())?;
            Ok(Arc::new(route) as Arc<dyn NoticeRoute>)
        })
    })
}

/// Settles, once, every assigned trip due at `now` from its committed track, each with its case's
/// notifications and one audit record (actor `system`); the requests settled and the cases opened.
pub async fn settle_due_trips(
    store: &Store,
    alerts: &AlertsConfig,
    rules: &RulesConfig,
    now: Timestamp,
) -> Result<Vec<Settled>, Error> {
    let pool = store.carpool();
    let started = pool.assigned_started(now).await?;
    if started.is_empty() {
        return Ok(Vec::new());
    }
    let (reference, _) = crate::reference::load_reference(store, rules).await?;
    let route = Arc::new(CarpoolRoute::load(store, alerts, now).await?);
    let t = rules.carpool.thresholds();
    let mut done = Vec::new();
    for request in started {
        let Some(a) = &request.assignment else { continue };
        let Some(unit) = route.routing.vehicle(a.vehicle).map(|v| v.unit) else {
            continue;
        };
        let track = pool.trip_track(&request, Some(now)).await?;
        let home = |p| at_home(&reference, unit, &request.fields, &t, p);
        let Some(due) = settlement_due(&request.fields, &track, now, &t, home) else {
            continue;
        };
        let s = settle_due(&request.fields, &track, &t, due, now);
        let audit = Audit {
            time: now,
            entry: AuditEntry {
                actor: "system".into(),
                role: "system".into(),
                action: "carpool.settle".into(),
                vehicle: Some(a.vehicle),
                ..Default::default()
            },
            describe: |s: &Settled, e: &mut AuditEntry| {
                let km = s.request.settlement.as_ref().map_or(0.0, |x| x.km);
                e.detail = format!("request {} settled: {km:.1} km, case {:?}", s.request.id, s.case);
            },
        };
        match pool
            .settle(request.id, &s, now, Some(route.clone() as Arc<dyn NoticeRoute>))
            .audited(Some(audit))
            .await
        {
            Ok(settled) => done.push(settled),
            // Settled meanwhile (a dispatcher, another instance): once is enough.
            Err(tianshu_store::Error::Conflict(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    debug_assert!(done.iter().all(|s| s.request.state == RequestState::Settled));
    Ok(done)
}
