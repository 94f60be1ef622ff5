//! JT/T 809 platform links: Tianshu as an upper platform (上级平台) that lower platforms log in to, and as
//! a lower platform (下级平台) forwarding its cars' positions to upper ones ([`lower`]).
//!
//! The codec is `tianshu-jt809` (pure); this crate owns the sockets, the login and keep-alive of each
//! link, and hands positions to the store's group-commit writer through the same checks as a terminal's
//! (`tianshu_ingest::uplink`).
#![deny(missing_docs)]

pub mod config;
pub mod login;
pub mod lower;
pub mod metrics;
pub mod requests;
pub mod scope;
pub mod sublink;
pub mod upper;

pub use config::{Jt809Config, LowerPlatform, UpperPlatform};
pub use upper::{Upper, run};
