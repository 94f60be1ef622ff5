//! Who may look, and the record of every look: roles, users, sessions, and (from [`crate::audit`]) the
//! audit records' chain. Storing them is the store's (`tianshu_store::access`); everything here is plain
//! data and pure functions.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use crate::audit::{
    Anchor, Audit, AuditEntry, AuditKey, AuditRecord, ChainBreak, ChainScheme, ChainSummary, ChainVerifier,
    GENESIS_HASH, next_scheme, parse_anchors, verify_chain,
};
use crate::{Timestamp, UnitId};

/// What a person may do; scope (which vehicles) follows from the role and the user's unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Manages users, units, vehicles, terminals, geofences and calendars; sees everything.
    Administrator,
    /// Watches the live map of every vehicle and handles orders.
    Dispatcher,
    /// Discipline inspection: replays and reports of any vehicle, read-only, every look audited.
    Inspector,
    /// A unit's supervisor: only the vehicles of their unit and its sub-units, and their alert cases.
    Supervisor,
    /// A unit's staff asking the office's pool for a car (用车申请): their unit's requests only.
    Requester,
}

impl Role {
    /// Every role, in order.
    pub const ALL: [Role; 5] = [
        Role::Administrator,
        Role::Dispatcher,
        Role::Inspector,
        Role::Supervisor,
        Role::Requester,
    ];

    /// The snake_case name used in the CLI, the API and the database.
    pub const fn as_str(self) -> &'static str {
        match self {
            Role::Administrator => "administrator",
            Role::Dispatcher => "dispatcher",
            Role::Inspector => "inspector",
            Role::Supervisor => "supervisor",
            Role::Requester => "requester",
        }
    }

    /// Whether this role is bounded by the user's unit (it and its sub-units); such a user needs a unit,
    /// and sees nothing without one.
    pub const fn scoped_to_unit(self) -> bool {
        matches!(self, Role::Supervisor | Role::Requester)
    }
}

impl Role {
    /// Whether this role sees terminals' phone numbers and terminal ids in full. Whoever knows both can
    /// register as the terminal, so only administrators (who provision them) do; every other role sees
    /// them masked ([`mask_identity`]), under the same field names.
    pub const fn sees_terminal_identity(self) -> bool {
        matches!(self, Role::Administrator)
    }
}

/// A phone number or terminal id as a role that may not see it is shown: its first `keep_head` and last
/// `keep_tail` characters, the rest starred, the length kept (`139******01`). Short values are starred
/// whole, so that masking never shows most of a value.
pub fn mask_identity(value: &str, keep_head: usize, keep_tail: usize) -> String {
    let n = value.chars().count();
    if n <= 2 * (keep_head + keep_tail) {
        return "*".repeat(n);
    }
    value
        .chars()
        .enumerate()
        .map(|(i, c)| {
            if i < keep_head || i >= n - keep_tail {
                c
            } else {
                '*'
            }
        })
        .collect()
}

/// A phone number as [`mask_identity`] shows it: the carrier prefix and the last two digits.
pub fn mask_phone(phone: &str) -> String {
    mask_identity(phone, 3, 2)
}

/// A terminal id as [`mask_identity`] shows it: its first and last characters.
pub fn mask_terminal_id(id: &str) -> String {
    mask_identity(id, 1, 1)
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A role name that is not one of [`Role::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role {0:?}; expected administrator, dispatcher, inspector, supervisor or requester")]
pub struct ParseRoleError(pub String);

impl std::str::FromStr for Role {
    type Err = ParseRoleError;
    fn from_str(s: &str) -> Result<Self, ParseRoleError> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s.trim())
            .ok_or_else(|| ParseRoleError(s.to_string()))
    }
}

/// A person who may log in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// Registry id.
    pub id: i64,
    /// Login name, unique.
    pub username: String,
    /// What they may do.
    pub role: Role,
    /// Their unit: required for supervisors (it bounds what they see), informative for the others.
    pub unit: Option<UnitId>,
    /// The argon2 PHC string; never the password, never sent to a client.
    #[serde(skip_serializing)]
    pub password_hash: String,
    /// When the user was created.
    pub created: Timestamp,
    /// A disabled user cannot log in and has no sessions.
    #[serde(default)]
    pub disabled: bool,
}

/// A user to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUser {
    /// Login name, unique.
    pub username: String,
    /// What they may do.
    pub role: Role,
    /// Their unit (required for supervisors).
    pub unit: Option<UnitId>,
    /// The argon2 PHC string of their password.
    pub password_hash: String,
}

/// A login session to store. The token itself never reaches the store, only its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSession {
    /// Hex SHA-256 of the session token ([`session_token_hash`]).
    pub token_hash: String,
    /// Whose session.
    pub user_id: i64,
    /// When it was created.
    pub created: Timestamp,
    /// When it ends unless used again.
    pub expires: Timestamp,
    /// Where the login came from.
    pub remote: String,
}

/// A live session with its user as stored now (role and unit changes apply to open sessions).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionUser {
    /// The user.
    pub user: User,
    /// When the session ends unless used again.
    pub expires: Timestamp,
}

/// A personal API token as stored: a user's key for machine clients, which acts as that user (role and
/// unit scope as they are now) until revoked. Its secret is shown once, at creation; only its
/// [`session_token_hash`] is kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiToken {
    /// Its id.
    pub id: i64,
    /// Whose it is.
    #[serde(skip_serializing)]
    pub user_id: i64,
    /// What its owner calls it.
    pub name: String,
    /// When it was created.
    pub created: Timestamp,
    /// When it was revoked; a revoked token lets nobody in.
    pub revoked: Option<Timestamp>,
}

/// A personal API token to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewApiToken {
    /// Hex SHA-256 of the token ([`session_token_hash`]).
    pub token_hash: String,
    /// Whose it is.
    pub user_id: i64,
    /// What its owner calls it.
    pub name: String,
    /// When it was created.
    pub created: Timestamp,
}

/// The hash under which a session token is stored: hex SHA-256 of the token's text.
pub fn session_token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identities_are_masked_for_every_role_but_the_administrator() {
        assert_eq!(mask_phone("13900000001"), "139******01");
        assert_eq!(mask_terminal_id("T000001"), "T*****1");
        assert_eq!(mask_phone("1234"), "****", "too short to show any of it");
        assert_eq!(mask_terminal_id(""), "");
        let full: Vec<Role> = Role::ALL
            .into_iter()
            .filter(|r| r.sees_terminal_identity())
            .collect();
        assert_eq!(full, [Role::Administrator]);
    }
}
