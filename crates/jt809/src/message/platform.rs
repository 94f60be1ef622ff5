//! Platform checks and messages (0x1300/0x9300): 平台查岗 and its answer, messages to the platform.

use serde::Serialize;

use super::*;
use crate::wire::{Reader, put_fixed, put_u16, put_u32, put_var};
use crate::{Edition, Error};

/// 0x1301: the answer to a platform check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PostQueryAck {
    /// OBJECT_TYPE.
    pub object_type: u8,
    /// RESPONDER, 16 bytes (2019 only).
    pub responder: String,
    /// RESPONDER_TEL, 20 bytes (2019 only).
    pub responder_tel: String,
    /// OBJECT_ID, 12 bytes (20 in 2019).
    pub object_id: String,
    /// SOURCE_DATA_TYPE (2019 only): the check's DATA_TYPE.
    pub source_data_type: u16,
    /// SOURCE_MSG_SN (2019 only): the check's MSG_SN.
    pub source_msg_sn: u32,
    /// INFO_ID (2011 only): the check's.
    pub info_id: u32,
    /// INFO_CONTENT: the answer.
    pub info: String,
}

/// The 0x1300 family.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UpPlatform {
    /// 0x1301.
    PostQueryAck(PostQueryAck),
    /// 0x1302.
    InfoAck {
        /// INFO_ID of the message received.
        info_id: u32,
    },
    /// Any other DATA_TYPE.
    Other {
        /// DATA_TYPE.
        data_type: u16,
        /// The data.
        data: Vec<u8>,
    },
}

/// 0x9301 (platform check) and 0x9302 (message to the platform).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlatformQuery {
    /// OBJECT_TYPE (who is asked: 1 the platform's operators, 2 a platform, ...).
    pub object_type: u8,
    /// OBJECT_ID, 12 bytes (20 in 2019 for 0x9301).
    pub object_id: String,
    /// ANSWER_TIME (2019 0x9301 only): the deadline to answer, minutes.
    pub answer_minutes: u8,
    /// INFO_ID.
    pub info_id: u32,
    /// INFO_CONTENT: the question or message.
    pub info: String,
}

/// The 0x9300 family.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DownPlatform {
    /// 0x9301.
    PostQuery(PlatformQuery),
    /// 0x9302 (laid out as in 2011 in both editions).
    Info(PlatformQuery),
    /// Any other DATA_TYPE.
    Other {
        /// DATA_TYPE.
        data_type: u16,
        /// The data.
        data: Vec<u8>,
    },
}

impl SubBody for UpPlatform {
    fn data_type(&self) -> u16 {
        match self {
            UpPlatform::PostQueryAck(_) => sub::POST_QUERY_ACK,
            UpPlatform::InfoAck { .. } => sub::INFO_ACK,
            UpPlatform::Other { data_type, .. } => *data_type,
        }
    }

    fn read(data_type: u16, edition: Edition, data: &[u8]) -> Result<Self, Error> {
        exact(data_type, data, |r| {
            Ok(match data_type {
                sub::POST_QUERY_ACK => {
                    let object_type = r.u8()?;
                    let mut a = PostQueryAck {
                        object_type,
                        responder: String::new(),
                        responder_tel: String::new(),
                        object_id: String::new(),
                        source_data_type: 0,
                        source_msg_sn: 0,
                        info_id: 0,
                        info: String::new(),
                    };
                    match edition {
                        Edition::V2011 => {
                            a.object_id = r.fixed(12)?;
                            a.info_id = r.u32()?;
                        }
                        Edition::V2019 => {
                            a.responder = r.fixed(16)?;
                            a.responder_tel = r.fixed(20)?;
                            a.object_id = r.fixed(20)?;
                            a.source_data_type = r.u16()?;
                            a.source_msg_sn = r.u32()?;
                        }
                    }
                    a.info = r.var_text("INFO_LENGTH")?;
                    UpPlatform::PostQueryAck(a)
                }
                sub::INFO_ACK => UpPlatform::InfoAck { info_id: r.u32()? },
                _ => UpPlatform::Other {
                    data_type,
                    data: r.rest().to_vec(),
                },
            })
        })
    }

    fn write(&self, edition: Edition, out: &mut Vec<u8>) -> Result<(), Error> {
        match self {
            UpPlatform::PostQueryAck(a) => {
                out.push(a.object_type);
                match edition {
                    Edition::V2011 => {
                        put_fixed(out, &a.object_id, 12, "OBJECT_ID")?;
                        put_u32(out, a.info_id);
                    }
                    Edition::V2019 => {
                        put_fixed(out, &a.responder, 16, "RESPONDER")?;
                        put_fixed(out, &a.responder_tel, 20, "RESPONDER_TEL")?;
                        put_fixed(out, &a.object_id, 20, "OBJECT_ID")?;
                        put_u16(out, a.source_data_type);
                        put_u32(out, a.source_msg_sn);
                    }
                }
                put_var(out, &a.info, "INFO_CONTENT")?;
            }
            UpPlatform::InfoAck { info_id } => put_u32(out, *info_id),
            UpPlatform::Other { data, .. } => out.extend_from_slice(data),
        }
        Ok(())
    }
}

impl PlatformQuery {
    fn read(r: &mut Reader<'_>, check_2019: bool) -> Result<Self, Error> {
        let object_type = r.u8()?;
        let object_id = r.fixed(if check_2019 { 20 } else { 12 })?;
        let answer_minutes = if check_2019 { r.u8()? } else { 0 };
        Ok(PlatformQuery {
            object_type,
            object_id,
            answer_minutes,
            info_id: r.u32()?,
            info: r.var_text("INFO_LENGTH")?,
        })
    }

    fn write(&self, check_2019: bool, out: &mut Vec<u8>) -> Result<(), Error> {
        out.push(self.object_type);
        put_fixed(
            out,
            &self.object_id,
            if check_2019 { 20 } else { 12 },
            "OBJECT_ID",
        )?;
        if check_2019 {
            out.push(self.answer_minutes);
        }
        put_u32(out, self.info_id);
        put_var(out, &self.info, "INFO_CONTENT")
    }
}

impl SubBody for DownPlatform {
    fn data_type(&self) -> u16 {
        match self {
            DownPlatform::PostQuery(_) => sub::POST_QUERY_REQ,
            DownPlatform::Info(_) => sub::INFO_REQ,
            DownPlatform::Other { data_type, .. } => *data_type,
        }
    }

    fn read(data_type: u16, edition: Edition, data: &[u8]) -> Result<Self, Error> {
        exact(data_type, data, |r| {
            Ok(match data_type {
                sub::POST_QUERY_REQ => {
                    DownPlatform::PostQuery(PlatformQuery::read(r, edition == Edition::V2019)?)
                }
                sub::INFO_REQ => DownPlatform::Info(PlatformQuery::read(r, false)?),
                _ => DownPlatform::Other {
                    data_type,
                    data: r.rest().to_vec(),
                },
            })
        })
    }

    fn write(&self, edition: Edition, out: &mut Vec<u8>) -> Result<(), Error> {
        match self {
            DownPlatform::PostQuery(q) => q.write(edition == Edition::V2019, out)?,
            DownPlatform::Info(q) => q.write(false, out)?,
            DownPlatform::Other { data, .. } => out.extend_from_slice(data),
        }
        Ok(())
    }
}
