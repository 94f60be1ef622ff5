//! The PostgreSQL / TimescaleDB backend.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tianshu_model::{Phone, Position, Terminal, Timestamp, Unit, Vehicle, VehicleId};

use crate::{Backend, DriverEvent, Error, ImportSummary, RegistryRecord, Result, TrackStream};

/// Settings of the PostgreSQL backend.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PostgresConfig {
    /// Connections in the pool.
    pub pool_size: usize,
}

impl Default for PostgresConfig {
    fn default() -> Self {
        PostgresConfig { pool_size: 8 }
    }
}

/// The PostgreSQL backend.
pub struct PostgresBackend {
    _config: PostgresConfig,
}

impl PostgresBackend {
    /// Connects and applies pending migrations.
    pub async fn open(url: &str, _config: &PostgresConfig) -> Result<PostgresBackend> {
        Err(Error::BadUrl {
            url: url.to_string(),
            reason: "the PostgreSQL backend is not built yet".into(),
        })
    }
}

#[async_trait]
impl Backend for PostgresBackend {
    async fn commit_points(&self, _: &[Position]) -> Result<Vec<bool>> {
        Err(Error::Closed)
    }
    async fn latest_positions(&self) -> Result<Vec<Position>> {
        Err(Error::Closed)
    }
    async fn latest_position(&self, _: VehicleId) -> Result<Option<Position>> {
        Err(Error::Closed)
    }
    async fn track(&self, _: VehicleId, _: Timestamp, _: Timestamp) -> Result<TrackStream> {
        Err(Error::Closed)
    }
    async fn ping(&self) -> Result<()> {
        Err(Error::Closed)
    }
    async fn applied_migrations(&self) -> Result<Vec<u32>> {
        Err(Error::Closed)
    }
    async fn import_registry(&self, _: &[RegistryRecord]) -> Result<ImportSummary> {
        Err(Error::Closed)
    }
    async fn units(&self) -> Result<Vec<Unit>> {
        Err(Error::Closed)
    }
    async fn vehicles(&self) -> Result<Vec<Vehicle>> {
        Err(Error::Closed)
    }
    async fn vehicle_by_plate(&self, _: &str) -> Result<Option<Vehicle>> {
        Err(Error::Closed)
    }
    async fn terminal(&self, _: Phone) -> Result<Option<Terminal>> {
        Err(Error::Closed)
    }
    async fn terminals(&self) -> Result<Vec<Terminal>> {
        Err(Error::Closed)
    }
    async fn save_registration(
        &self,
        _: Phone,
        _: tianshu_model::Edition,
        _: &str,
        _: Option<&str>,
    ) -> Result<()> {
        Err(Error::Closed)
    }
    async fn append_driver_event(&self, _: &DriverEvent) -> Result<()> {
        Err(Error::Closed)
    }
    async fn driver_events(&self, _: VehicleId, _: Timestamp, _: Timestamp) -> Result<Vec<DriverEvent>> {
        Err(Error::Closed)
    }
}
