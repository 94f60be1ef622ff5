//! The link layer's bodies: login and its answer, logout, the upper platform's count of messages received.

use serde::Serialize;

/// 0x1001: main-link login.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Login {
    /// USERID.
    pub user_id: u32,
    /// PASSWORD, 8 bytes.
    pub password: String,
    /// MSG_GNSSCENTERID in the body (2019 only; 0 in 2011).
    pub center_id: u32,
    /// DOWN_LINK_IP: where the upper platform opens the sub-link, 32 bytes.
    pub down_link_ip: String,
    /// DOWN_LINK_PORT.
    pub down_link_port: u16,
}

/// 0x1002: the login answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct LoginAnswer {
    /// RESULT: see the `LOGIN_*` constants.
    pub result: u8,
    /// VERIFY_CODE, which the upper platform then presents on the sub-link.
    pub verify_code: u32,
}

impl LoginAnswer {
    /// Login accepted.
    pub const OK: u8 = 0x00;
    /// IP address not allowed.
    pub const BAD_IP: u8 = 0x01;
    /// Access code (接入码) wrong.
    pub const BAD_ACCESS_CODE: u8 = 0x02;
    /// User not registered.
    pub const UNKNOWN_USER: u8 = 0x03;
    /// Password wrong.
    pub const BAD_PASSWORD: u8 = 0x04;
    /// Resources short; try later.
    pub const BUSY: u8 = 0x05;
    /// Another reason.
    pub const OTHER: u8 = 0x06;
}

/// 0x1003: main-link logout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Logout {
    /// USERID.
    pub user_id: u32,
    /// PASSWORD.
    pub password: String,
}

/// 0x9101: how many messages the upper platform received between two times.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct TotalReceived {
    /// DYNAMIC_INFO_TOTAL.
    pub total: u32,
    /// START_TIME, UTC seconds.
    pub start_utc: u64,
    /// END_TIME, UTC seconds.
    pub end_utc: u64,
}
