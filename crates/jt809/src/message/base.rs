//! Static vehicle information (0x1600/0x9600).

use serde::Serialize;

use super::*;
use crate::{Edition, Error};

/// The 0x1600 family.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UpBase {
    /// 0x1601: the vehicle's static information (`key:=value;` pairs, as the standard writes them).
    VehicleAddedAck {
        /// CAR_INFO.
        car_info: String,
    },
    /// Any other DATA_TYPE.
    Other {
        /// DATA_TYPE.
        data_type: u16,
        /// The data.
        data: Vec<u8>,
    },
}

/// The 0x9600 family.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DownBase {
    /// 0x9601: asks for the vehicle's static information.
    VehicleAdded,
    /// Any other DATA_TYPE.
    Other {
        /// DATA_TYPE.
        data_type: u16,
        /// The data.
        data: Vec<u8>,
    },
}

impl SubBody for UpBase {
    fn data_type(&self) -> u16 {
        match self {
            UpBase::VehicleAddedAck { .. } => sub::VEHICLE_ADDED_ACK,
            UpBase::Other { data_type, .. } => *data_type,
        }
    }

    fn read(data_type: u16, _edition: Edition, data: &[u8]) -> Result<Self, Error> {
        Ok(match data_type {
            sub::VEHICLE_ADDED_ACK => UpBase::VehicleAddedAck {
                car_info: crate::wire::gbk_decode(data),
            },
            _ => UpBase::Other {
                data_type,
                data: data.to_vec(),
            },
        })
    }

    fn write(&self, _edition: Edition, out: &mut Vec<u8>) -> Result<(), Error> {
        match self {
            UpBase::VehicleAddedAck { car_info } => {
                out.extend_from_slice(&crate::wire::gbk_encode(car_info, "CAR_INFO")?);
            }
            UpBase::Other { data, .. } => out.extend_from_slice(data),
        }
        Ok(())
    }
}

impl SubBody for DownBase {
    fn data_type(&self) -> u16 {
        match self {
            DownBase::VehicleAdded => sub::VEHICLE_ADDED,
            DownBase::Other { data_type, .. } => *data_type,
        }
    }

    fn read(data_type: u16, _edition: Edition, data: &[u8]) -> Result<Self, Error> {
        exact(data_type, data, |r| {
            Ok(match data_type {
                sub::VEHICLE_ADDED => DownBase::VehicleAdded,
                _ => DownBase::Other {
                    data_type,
                    data: r.rest().to_vec(),
                },
            })
        })
    }

    fn write(&self, _edition: Edition, out: &mut Vec<u8>) -> Result<(), Error> {
        match self {
            DownBase::VehicleAdded => {}
            DownBase::Other { data, .. } => out.extend_from_slice(data),
        }
        Ok(())
    }
}
