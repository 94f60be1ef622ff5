//! Which parts of Tianshu a process runs (`tianshu serve --roles gateway,mqtt,writer,rules,api`).
//!
//! Without a bus every process runs them all (the default): the gateway's points go to the process's own
//! store writer. With a bus each role may run in its own processes: gateways and MQTT ingest publish to
//! the points stream, writers commit it, rules and API instances read the committed stream.

use std::fmt;
use std::str::FromStr;

/// One role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// JT/T 808 terminals over TCP.
    Gateway,
    /// MQTT ingest (when a broker is configured).
    Mqtt,
    /// Committing the points stream to the store (with a bus; without one the store's writer is local).
    Writer,
    /// The alert rules and their cases.
    Rules,
    /// The web page and its API.
    Api,
}

impl Role {
    const ALL: [(Role, &'static str); 5] = [
        (Role::Gateway, "gateway"),
        (Role::Mqtt, "mqtt"),
        (Role::Writer, "writer"),
        (Role::Rules, "rules"),
        (Role::Api, "api"),
    ];
}

/// The roles a process runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Roles(u8);

impl Roles {
    /// Every role: one process does everything.
    pub const ALL: Roles = Roles(0b1_1111);

    /// Whether `role` is among them.
    pub fn has(self, role: Role) -> bool {
        self.0 & (1 << role as u8) != 0
    }
}

impl Default for Roles {
    fn default() -> Self {
        Roles::ALL
    }
}

impl FromStr for Roles {
    type Err = String;

    /// Role names separated by commas; an unknown or missing name is an error that lists the known ones.
    fn from_str(s: &str) -> Result<Roles, String> {
        let mut bits = 0u8;
        for name in s.split(',').map(str::trim) {
            let Some((role, _)) = Role::ALL.iter().find(|(_, n)| *n == name) else {
                let known: Vec<&str> = Role::ALL.iter().map(|(_, n)| *n).collect();
                return Err(format!(
                    "unknown role {name:?}; the roles are {}",
                    known.join(", ")
                ));
            };
            bits |= 1 << *role as u8;
        }
        Ok(Roles(bits))
    }
}

impl fmt::Display for Roles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = Role::ALL
            .iter()
            .filter(|(r, _)| self.has(*r))
            .map(|(_, n)| *n)
            .collect();
        f.write_str(&names.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_parse_and_print() {
        let r: Roles = "writer, rules".parse().expect("roles");
        assert!(r.has(Role::Writer) && r.has(Role::Rules));
        assert!(!r.has(Role::Gateway) && !r.has(Role::Api) && !r.has(Role::Mqtt));
        assert_eq!(r.to_string(), "writer,rules");
        assert_eq!("gateway,mqtt,writer,rules,api".parse::<Roles>(), Ok(Roles::ALL));
        assert_eq!(Roles::default(), Roles::ALL);
    }

    #[test]
    fn an_unknown_role_is_named() {
        let e = "gateway,router".parse::<Roles>().expect_err("unknown");
        assert!(
            e.contains("\"router\"") && e.contains("gateway, mqtt, writer, rules, api"),
            "{e}"
        );
        assert!("".parse::<Roles>().is_err());
    }
}
