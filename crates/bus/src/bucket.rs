//! The key-value buckets the bus keeps (the rules' leases, the terminals' gateways): each is a stream laid
//! out as JetStream lays out a bucket, created like the other streams.

use std::time::Duration;

use async_nats::jetstream::{kv, stream};

use crate::{Bus, BusError};

/// Opens (or creates) the key-value bucket `name`, its entries forgotten after `ttl`. Its stream is laid
/// out as a bucket is (one value a key, direct reads) and created like the other streams: the client's
/// own bucket creation asks the server for account details older servers do not give.
pub(crate) async fn bucket(bus: &Bus, name: &str, ttl: Duration) -> Result<kv::Store, BusError> {
    let bucket_error = |reason: String| BusError::Stream {
        name: name.to_string(),
        reason,
    };
    let config = bucket_config(name, ttl, bus.config.replicas);
    bus.js
        .get_or_create_stream(config)
        .await
        .map_err(|e| bucket_error(e.to_string()))?;
    bus.js
        .get_key_value(name)
        .await
        .map_err(|e| bucket_error(e.to_string()))
}

/// A stream laid out as a key-value bucket, entries forgotten after `ttl`.
fn bucket_config(name: &str, ttl: Duration, replicas: usize) -> stream::Config {
    stream::Config {
        name: format!("KV_{name}"),
        subjects: vec![format!("$KV.{name}.>")],
        max_messages_per_subject: 1,
        max_age: ttl,
        storage: stream::StorageType::File,
        num_replicas: replicas.max(1),
        allow_rollup: true,
        deny_delete: true,
        allow_direct: true,
        discard: stream::DiscardPolicy::New,
        ..Default::default()
    }
}
