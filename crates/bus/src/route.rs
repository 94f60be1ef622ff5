//! Downlink commands across instances: a command sent through any API instance reaches the gateway
//! holding the terminal, and its answer comes back.
//!
//! Each gateway writes the phones connected to it into a key-value bucket (`[bus] terminals_bucket`:
//! phone -> gateway id), renewed every third of `route_secs` and removed when the terminal left; the
//! bucket forgets an entry not renewed for `route_secs` (a dead gateway's). Each gateway answers requests
//! on `tianshu.downlink.<gateway id>`. An API instance whose own gateway does not hold the terminal looks
//! its gateway up and asks it (request and reply), within the command's timeout.

use std::collections::BTreeSet;
use std::time::Duration;

use async_nats::jetstream::kv;
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use tianshu_ingest::{Command, Downlink, DownlinkError, Reply};
use tianshu_model::Phone;

use crate::{Bus, BusError};

/// The subject a gateway answers downlink requests on.
pub fn downlink_subject(gateway: &str) -> String {
    format!("tianshu.downlink.{gateway}")
}

/// A downlink request on the bus.
#[derive(Serialize, Deserialize)]
struct Ask {
    phone: String,
    command: Command,
    timeout_ms: u64,
}

/// What became of it, as the gateway holding the terminal tells it.
#[derive(Serialize, Deserialize)]
enum Answer {
    Reply(Reply),
    Offline,
    Busy,
    Timeout,
    Closed,
    Encode(String),
}

impl Answer {
    fn of(result: Result<Reply, DownlinkError>) -> Answer {
        match result {
            Ok(reply) => Answer::Reply(reply),
            Err(DownlinkError::Offline(_)) => Answer::Offline,
            Err(DownlinkError::Busy(_)) => Answer::Busy,
            Err(DownlinkError::Timeout(..)) => Answer::Timeout,
            Err(DownlinkError::Closed(_)) => Answer::Closed,
            Err(DownlinkError::Encode(e)) => Answer::Encode(e),
        }
    }

    fn into_result(self, phone: Phone, timeout: Duration) -> Result<Reply, DownlinkError> {
        match self {
            Answer::Reply(reply) => Ok(reply),
            Answer::Offline => Err(DownlinkError::Offline(phone)),
            Answer::Busy => Err(DownlinkError::Busy(phone)),
            Answer::Timeout => Err(DownlinkError::Timeout(phone, timeout)),
            Answer::Closed => Err(DownlinkError::Closed(phone)),
            Answer::Encode(e) => Err(DownlinkError::Encode(e)),
        }
    }
}

/// The terminals' gateways on the bus. Cheap to clone.
#[derive(Clone)]
pub struct Routes {
    bus: Bus,
    kv: kv::Store,
}

impl Routes {
    /// Opens (or creates) the terminals bucket.
    pub async fn open(bus: &Bus) -> Result<Routes, BusError> {
        let c = &bus.config;
        let kv = crate::bucket::bucket(bus, &c.terminals_bucket, c.route_ttl()).await?;
        Ok(Routes { bus: bus.clone(), kv })
    }

    /// The gateway holding `phone` now, if any.
    pub async fn gateway_of(&self, phone: Phone) -> Option<String> {
        let value = self.kv.get(phone.to_string()).await.ok().flatten()?;
        Some(String::from_utf8_lossy(&value).into_owned())
    }

    /// Sends `command` to `phone` through the gateway holding it and waits for the answer, at most
    /// `timeout`: offline when no gateway holds it, a timeout when its gateway does not answer in time.
    pub async fn send(
        &self,
        phone: Phone,
        command: Command,
        timeout: Duration,
    ) -> Result<Reply, DownlinkError> {
        let Some(gateway) = self.gateway_of(phone).await else {
            return Err(DownlinkError::Offline(phone));
        };
        let ask = Ask {
            phone: phone.to_string(),
            command,
            timeout_ms: timeout.as_millis() as u64,
        };
        let payload = serde_json::to_vec(&ask).map_err(|e| DownlinkError::Encode(e.to_string()))?;
        // The gateway gives the terminal `timeout`; the request waits a little longer for its answer.
        let request = async_nats::client::Request::new()
            .payload(payload.into())
            .timeout(Some(timeout + Duration::from_secs(1)));
        let answer = match self
            .bus
            .client
            .send_request(downlink_subject(&gateway), request)
            .await
        {
            Ok(message) => message,
            Err(e) => {
                tracing::warn!(%phone, %gateway, error = %e, "downlink request through the bus got no answer");
                return Err(DownlinkError::Timeout(phone, timeout));
            }
        };
        match serde_json::from_slice::<Answer>(&answer.payload) {
            Ok(answer) => answer.into_result(phone, timeout),
            Err(e) => Err(DownlinkError::Encode(format!("the gateway's answer: {e}"))),
        }
    }

    /// Serves this gateway (`gateway`, its id) on the bus until `stop` resolves: its terminals written
    /// to the bucket, and downlink requests for them carried out through `downlink`.
    pub async fn serve(
        self,
        gateway: String,
        downlink: Downlink,
        stop: impl std::future::Future<Output = ()>,
    ) {
        let subject = downlink_subject(&gateway);
        let mut requests = match self.bus.client.subscribe(subject.clone()).await {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(%subject, error = %e, "the gateway cannot take downlink requests from the bus");
                return;
            }
        };
        let mut refresh = tokio::time::interval(self.bus.config.route_ttl() / 3);
        refresh.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut written: BTreeSet<Phone> = BTreeSet::new();
        let mut stop = std::pin::pin!(stop);
        tracing::info!(%gateway, %subject, "gateway serving downlink requests from the bus");
        loop {
            tokio::select! {
                _ = &mut stop => break,
                _ = refresh.tick() => written = self.refresh(&gateway, &downlink, written).await,
                request = requests.next() => {
                    let Some(request) = request else { break };
                    tokio::spawn(answer(self.bus.client.clone(), downlink.clone(), request));
                }
            }
        }
        for phone in written {
            self.forget(&gateway, phone).await;
        }
    }

    /// Writes the phones online here (again), and removes those gone since the last time; the phones
    /// written.
    async fn refresh(&self, gateway: &str, downlink: &Downlink, before: BTreeSet<Phone>) -> BTreeSet<Phone> {
        let now: BTreeSet<Phone> = downlink.online().phones().into_iter().collect();
        for phone in &now {
            if let Err(e) = self.kv.put(phone.to_string(), gateway.to_string().into()).await {
                tracing::warn!(%phone, error = %e, "writing a terminal's gateway failed");
            }
        }
        for phone in before.difference(&now) {
            self.forget(gateway, *phone).await;
        }
        now
    }

    /// Removes `phone`'s entry if it still names this gateway (the terminal may be on another now).
    async fn forget(&self, gateway: &str, phone: Phone) {
        if let Ok(Some(entry)) = self.kv.entry(phone.to_string()).await
            && entry.operation == kv::Operation::Put
            && entry.value.as_ref() == gateway.as_bytes()
        {
            let _ = self
                .kv
                .delete_expect_revision(phone.to_string(), Some(entry.revision))
                .await;
        }
    }
}

/// Carries out one request from the bus through this gateway's own sessions and answers it.
async fn answer(client: async_nats::Client, downlink: Downlink, request: async_nats::Message) {
    let Some(reply_to) = request.reply.clone() else {
        return;
    };
    let answer = match serde_json::from_slice::<Ask>(&request.payload) {
        Ok(ask) => match ask.phone.parse::<u128>() {
            Ok(phone) => {
                let timeout = Duration::from_millis(ask.timeout_ms);
                Answer::of(downlink.send(Phone(phone), ask.command, Some(timeout)).await)
            }
            Err(e) => Answer::Encode(format!("phone {:?}: {e}", ask.phone)),
        },
        Err(e) => Answer::Encode(format!("downlink request: {e}")),
    };
    match serde_json::to_vec(&answer) {
        Ok(bytes) => {
            if let Err(e) = client.publish(reply_to, bytes.into()).await {
                tracing::warn!(error = %e, "answering a downlink request failed");
            }
        }
        Err(e) => tracing::warn!(error = %e, "a downlink answer does not serialise"),
    }
}
