//! Rules partitions held through leases in a JetStream key-value bucket, and read by their holder.
//!
//! The bucket (`[bus] leases_bucket`, as many replicas as the streams) keeps each key for `lease_secs`
//! only (the bucket's age limit): an instance renews its member key (`member.<instance>`) and each
//! partition key it holds (`partition.<p>`, its instance id as the value, renewed by a compare-and-set
//! on the revision) every third of that; a dead instance's keys expire, and the survivors claim the
//! partitions (an exclusive create) at their next round, so a partition changes hands within
//! `lease_secs` and a round. Which partitions to claim or give up is [`crate::assign::plan`]'s decision.
//! An instance that could not renew a lease for two thirds of `lease_secs` counts it as lost, before
//! anyone else may claim it.
//!
//! Each held partition is read by its holder from the committed stream through a durable consumer of its
//! own (`tianshu-rules-<p>`, acknowledged once its points are handed to the rules), so its position
//! survives its holder: the next one goes on from there, and what the dead one took but had not yet
//! evaluated, or evaluated since its last saved rule state, the rules read back from the store when
//! they restore the car's state (see the alerts runtime).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use async_nats::jetstream::consumer::pull::MessagesErrorKind;
use async_nats::jetstream::consumer::{AckPolicy, DeliverPolicy, PullConsumer, pull};
use async_nats::jetstream::kv;
use futures::{StreamExt, TryStreamExt};
use tianshu_model::VehicleId;
use tianshu_store::Store;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::assign;
use crate::bucket::bucket;
use crate::config::committed_subject;
use crate::metrics::METRICS;
use crate::wire::{decode_points, partition_of};
use crate::{Bus, BusError};

/// The prefix of the member keys.
const MEMBER: &str = "member.";
/// The prefix of the partition keys.
const PARTITION: &str = "partition.";

/// The partitions this instance holds now. Shared with the rules, which evaluate only their cars.
pub struct Held {
    instance: String,
    partitions: u16,
    held: RwLock<BTreeSet<u16>>,
    generation: AtomicU64,
}

impl Held {
    /// This instance's id in the bucket.
    pub fn instance(&self) -> &str {
        &self.instance
    }

    /// Whether partition `p` is held.
    pub fn holds(&self, p: u16) -> bool {
        self.held.read().map(|h| h.contains(&p)).unwrap_or(false)
    }

    /// Whether `vehicle`'s partition is held.
    pub fn owns(&self, vehicle: VehicleId) -> bool {
        self.holds(partition_of(vehicle, self.partitions))
    }

    /// The partitions held, in order.
    pub fn partitions(&self) -> Vec<u16> {
        self.held
            .read()
            .map(|h| h.iter().copied().collect())
            .unwrap_or_default()
    }

    /// Changes whenever the partitions held change.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    fn set(&self, now: BTreeSet<u16>) {
        if let Ok(mut held) = self.held.write()
            && *held != now
        {
            METRICS.leases_held.set(now.len() as i64);
            *held = now;
            self.generation.fetch_add(1, Ordering::AcqRel);
        }
    }
}

/// Keeps this instance's leases and reads the partitions it holds into `store`'s followers.
pub struct Leases {
    bus: Bus,
    kv: kv::Store,
    held: Arc<Held>,
    /// When each held partition's lease was last written.
    renewed: BTreeMap<u16, Instant>,
    readers: HashMap<u16, JoinHandle<()>>,
}

impl Leases {
    /// Opens (or creates) the leases bucket; the instance id is `[bus] instance`, or one made of the host
    /// name and the process id.
    pub async fn open(bus: &Bus) -> Result<Leases, BusError> {
        let c = &bus.config;
        let kv = bucket(bus, &c.leases_bucket, c.lease_ttl()).await?;
        let held = Arc::new(Held {
            instance: c.instance_id(),
            partitions: c.partitions.max(1),
            held: RwLock::default(),
            generation: AtomicU64::new(0),
        });
        Ok(Leases {
            bus: bus.clone(),
            kv,
            held,
            renewed: BTreeMap::new(),
            readers: HashMap::new(),
        })
    }

    /// The partitions held, shared.
    pub fn held(&self) -> Arc<Held> {
        self.held.clone()
    }

    /// Renews, claims and gives up leases every third of `lease_secs`, and reads the partitions held
    /// into `store`'s followers, until `stop` resolves; then gives every lease up.
    pub async fn run(mut self, store: Store, stop: impl std::future::Future<Output = ()>) {
        let ttl = self.bus.config.lease_ttl();
        let mut every = tokio::time::interval(ttl / 3);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut stop = std::pin::pin!(stop);
        tracing::info!(instance = %self.held.instance, bucket = %self.bus.config.leases_bucket, "rules leases kept");
        loop {
            tokio::select! {
                _ = &mut stop => break,
                _ = every.tick() => {}
            }
            if let Err(e) = self.round().await {
                tracing::warn!(error = %e, "rules leases: a round failed; leases not renewed in time are given up");
            }
            self.expire(ttl * 2 / 3);
            self.follow(&store);
        }
        self.give_up().await;
    }

    /// One round: the member key renewed, the bucket read, the held leases renewed, the plan carried out.
    async fn round(&mut self) -> Result<(), String> {
        let me = self.held.instance.clone();
        self.kv
            .put(format!("{MEMBER}{me}"), me.clone().into())
            .await
            .map_err(|e| e.to_string())?;
        let keys: Vec<String> = self
            .kv
            .keys()
            .await
            .map_err(|e| e.to_string())?
            .try_collect()
            .await
            .map_err(|e| e.to_string())?;
        let members: BTreeSet<String> = keys
            .iter()
            .filter_map(|k| k.strip_prefix(MEMBER).map(String::from))
            .collect();
        let mut owners = BTreeMap::new();
        for key in keys.iter().filter(|k| k.starts_with(PARTITION)) {
            let Some(p) = key[PARTITION.len()..].parse::<u16>().ok() else {
                continue;
            };
            let entry = self.kv.entry(key.as_str()).await.map_err(|e| e.to_string())?;
            if let Some(entry) = entry.filter(|e| e.operation == kv::Operation::Put) {
                let owner = String::from_utf8_lossy(&entry.value).into_owned();
                if owner == me {
                    match self.kv.update(key, me.clone().into(), entry.revision).await {
                        Ok(_) => {
                            self.renewed.insert(p, Instant::now());
                        }
                        Err(e) => {
                            tracing::warn!(partition = p, error = %e, "rules leases: renewing failed; given up");
                            self.renewed.remove(&p);
                            continue;
                        }
                    }
                }
                owners.insert(p, owner);
            }
        }
        // A lease held here but gone from the bucket, or someone else's now, is lost.
        self.renewed
            .retain(|p, _| owners.get(p).is_some_and(|o| *o == me));
        let plan = assign::plan(&me, self.held.partitions, &members, &owners);
        for p in plan.release {
            self.renewed.remove(&p);
            if let Err(e) = self.kv.delete(format!("{PARTITION}{p}")).await {
                tracing::warn!(partition = p, error = %e, "rules leases: giving up failed; it expires by itself");
            }
        }
        for p in plan.claim {
            if self
                .kv
                .create(format!("{PARTITION}{p}"), me.clone().into())
                .await
                .is_ok()
            {
                self.renewed.insert(p, Instant::now());
            }
        }
        Ok(())
    }

    /// Leases not renewed within `valid` count as lost.
    fn expire(&mut self, valid: Duration) {
        let now = Instant::now();
        self.renewed.retain(|p, at| {
            let kept = now.duration_since(*at) < valid;
            if !kept {
                tracing::warn!(partition = p, "rules leases: not renewed in time; given up");
            }
            kept
        });
    }

    /// The readers follow the leases: one started for each partition gained, stopped for each lost.
    fn follow(&mut self, store: &Store) {
        let held: BTreeSet<u16> = self.renewed.keys().copied().collect();
        self.readers.retain(|p, reader| {
            let kept = held.contains(p) && !reader.is_finished();
            if !kept {
                reader.abort();
            }
            kept
        });
        for p in &held {
            if !self.readers.contains_key(p) {
                let reader = tokio::spawn(read_partition(self.bus.clone(), store.clone(), *p));
                self.readers.insert(*p, reader);
            }
        }
        if held != self.held.partitions().into_iter().collect() {
            tracing::info!(partitions = ?held, "rules partitions held");
        }
        self.held.set(held);
    }

    /// At a clean stop: the readers stopped and every lease given up, so another instance takes them at
    /// once rather than after they expire.
    async fn give_up(&mut self) {
        for (_, reader) in self.readers.drain() {
            reader.abort();
        }
        for p in std::mem::take(&mut self.renewed).into_keys() {
            let _ = self.kv.delete(format!("{PARTITION}{p}")).await;
        }
        let _ = self.kv.delete(format!("{MEMBER}{}", self.held.instance)).await;
        self.held.set(BTreeSet::new());
    }
}

/// Reads partition `p` of the committed stream into the store's followers from its durable position,
/// again after a failure, until aborted.
async fn read_partition(bus: Bus, store: Store, p: u16) {
    loop {
        if let Err(e) = consume(&bus, &store, p).await {
            tracing::warn!(partition = p, error = %e, "rules partition reader failed; starting again");
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

async fn consume(bus: &Bus, store: &Store, p: u16) -> Result<(), String> {
    let c = &bus.config;
    let stream = bus
        .js
        .get_stream(&c.committed_stream)
        .await
        .map_err(|e| e.to_string())?;
    let name = format!("tianshu-rules-{p}");
    let consumer: PullConsumer = stream
        .get_or_create_consumer(
            &name,
            pull::Config {
                durable_name: Some(name.clone()),
                filter_subject: committed_subject(p),
                ack_policy: AckPolicy::Explicit,
                deliver_policy: DeliverPolicy::All,
                // A dead holder's unacknowledged messages come back by the time its lease expired.
                ack_wait: c.lease_ttl(),
                ..Default::default()
            },
        )
        .await
        .map_err(|e| e.to_string())?;
    let mut messages = consumer
        .stream()
        .max_messages_per_batch(200)
        .heartbeat(Duration::from_secs(5))
        .messages()
        .await
        .map_err(|e| e.to_string())?;
    while let Some(next) = messages.next().await {
        let message = match next {
            Ok(m) => m,
            Err(e) if e.kind() == MessagesErrorKind::MissingHeartbeat => continue,
            Err(e) => return Err(e.to_string()),
        };
        match decode_points(&message.payload) {
            Ok(points) => {
                METRICS.committed_received.inc_by(points.len() as u64);
                store.deliver_committed_to_followers(points);
            }
            Err(e) => {
                METRICS.dead_letters.inc();
                tracing::warn!(partition = p, error = %e, "committed message does not decode; skipped");
            }
        }
        message.ack().await.map_err(|e| e.to_string())?;
    }
    Ok(())
}
