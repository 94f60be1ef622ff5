//! Alert channels an administrator adds beside the configured ones: a webhook (URL and body format) or
//! an e-mail address (sent through the configured SMTP server), the units it serves (with their
//! sub-units, as routing by unit does: a case concerns its car's unit and `notify_parent_levels` of its
//! ancestors), the lowest severity it is sent, and whether it is on. The checks every write makes live
//! here; the store applies them with the units and names it holds.

use serde::{Deserialize, Serialize};
use tianshu_model::UnitId;

use crate::Severity;

/// The body format of a webhook.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum WebhookFormat {
    /// Tianshu's own JSON (every field of the case).
    #[default]
    Generic,
    /// DingTalk custom robot (`msgtype: markdown`).
    Dingtalk,
    /// WeCom (企业微信) group robot (`msgtype: markdown`).
    Wecom,
}

impl WebhookFormat {
    /// The id.
    pub const fn as_str(self) -> &'static str {
        match self {
            WebhookFormat::Generic => "generic",
            WebhookFormat::Dingtalk => "dingtalk",
            WebhookFormat::Wecom => "wecom",
        }
    }

    /// Parses an id.
    pub fn parse(s: &str) -> Option<Self> {
        [
            WebhookFormat::Generic,
            WebhookFormat::Dingtalk,
            WebhookFormat::Wecom,
        ]
        .into_iter()
        .find(|f| f.as_str() == s)
    }
}

/// What a channel sends to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChannelKind {
    /// A POST of the case to a URL.
    Webhook,
    /// An e-mail through the configured SMTP server.
    Email,
}

impl ChannelKind {
    /// The id.
    pub const fn as_str(self) -> &'static str {
        match self {
            ChannelKind::Webhook => "webhook",
            ChannelKind::Email => "email",
        }
    }

    /// Parses an id.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "webhook" => Some(ChannelKind::Webhook),
            "email" => Some(ChannelKind::Email),
            _ => None,
        }
    }
}

/// A stored channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Channel {
    /// Stored id.
    pub id: i64,
    /// What is recorded of it.
    #[serde(flatten)]
    pub fields: ChannelFields,
}

const fn yes() -> bool {
    true
}

/// A channel's fields, as created or replaced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelFields {
    /// 1 to 60 characters, unique among channels (the configured webhooks' names included).
    pub name: String,
    /// `webhook` or `email`.
    pub kind: ChannelKind,
    /// A webhook's `http://` or `https://` URL (robot URLs carry their token: shown to administrators
    /// only). None for e-mail.
    #[serde(default)]
    pub url: Option<String>,
    /// A webhook's body format. Default `generic`.
    #[serde(default)]
    pub format: WebhookFormat,
    /// An e-mail channel's address. None for a webhook.
    #[serde(default)]
    pub address: Option<String>,
    /// The units whose cases it receives (with their sub-units as routing reaches them); empty = every
    /// case.
    #[serde(default)]
    pub units: Vec<UnitId>,
    /// Cases below this severity are not sent to it. Default `low` (all).
    #[serde(default = "low")]
    pub min_severity: Severity,
    /// Whether it is sent anything. Default true.
    #[serde(default = "yes")]
    pub enabled: bool,
}

const fn low() -> Severity {
    Severity::Low
}

/// Whether `url` is an `http://` or `https://` URL with a host and nothing a request line cannot carry.
fn check_url(url: &str) -> Result<(), String> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| format!("url: {url:?} is not an http:// or https:// URL"))?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
    let name = if host.starts_with('[') {
        host.split(']').next().unwrap_or_default().trim_start_matches('[')
    } else {
        host.split(':').next().unwrap_or_default()
    };
    if name.is_empty() {
        return Err(format!("url: {url:?} has no host"));
    }
    if url.len() > 2000 || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("url: a URL has at most 2000 characters and no spaces".into());
    }
    Ok(())
}

/// Whether `address` looks like an e-mail address: `local@domain.tld`, no spaces, at most 254 characters.
fn check_address(address: &str) -> Result<(), String> {
    let bad = || format!("address: {address:?} is not an e-mail address (name@example.gov.cn)");
    let (local, domain) = address.rsplit_once('@').ok_or_else(bad)?;
    let labels: Vec<&str> = domain.split('.').collect();
    let ok = address.len() <= 254
        && !local.is_empty()
        && local.len() <= 64
        && !local.contains('@')
        && !address
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "<>()[],;:\"\\".contains(c))
        && labels.len() >= 2
        && labels
            .iter()
            .all(|l| !l.is_empty() && !l.starts_with('-') && !l.ends_with('-'));
    if ok { Ok(()) } else { Err(bad()) }
}

/// Why a channel's fields are refused: a clash with another channel's name (a conflict), or a bad field;
/// either message names its field first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChannelRefusal {
    /// Another channel, stored or configured, has the name.
    NameTaken(String),
    /// A field is wrong.
    Invalid(String),
}

impl std::fmt::Display for ChannelRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ChannelRefusal::NameTaken(m) | ChannelRefusal::Invalid(m) => f.write_str(m),
        }
    }
}

impl ChannelFields {
    /// The fields trimmed (a webhook without an address, an e-mail without a URL, units without
    /// repeats), or what is wrong, the field first. `unit_exists` says whether a unit is registered,
    /// `name_taken` whether another channel has the name.
    pub fn checked(
        &self,
        unit_exists: impl Fn(UnitId) -> bool,
        name_taken: impl Fn(&str) -> bool,
    ) -> Result<ChannelFields, ChannelRefusal> {
        let name = self.name.trim();
        if name_taken(name) {
            return Err(ChannelRefusal::NameTaken(format!(
                "name: there is already a channel named {name:?}"
            )));
        }
        self.fields_checked(name, unit_exists)
            .map_err(ChannelRefusal::Invalid)
    }

    fn fields_checked(
        &self,
        name: &str,
        unit_exists: impl Fn(UnitId) -> bool,
    ) -> Result<ChannelFields, String> {
        if name.is_empty() || name.chars().count() > 60 {
            return Err("name: a channel's name has 1 to 60 characters".into());
        }
        let url = self.url.as_deref().map(str::trim).filter(|u| !u.is_empty());
        let address = self.address.as_deref().map(str::trim).filter(|a| !a.is_empty());
        match self.kind {
            ChannelKind::Webhook => {
                check_url(url.ok_or("url: a webhook needs an http:// or https:// URL")?)?;
                if address.is_some() {
                    return Err("address: a webhook has no e-mail address".into());
                }
            }
            ChannelKind::Email => {
                check_address(address.ok_or("address: an e-mail channel needs an address")?)?;
                if url.is_some() {
                    return Err("url: an e-mail channel has no URL".into());
                }
            }
        }
        let mut units: Vec<UnitId> = Vec::with_capacity(self.units.len());
        for u in &self.units {
            if !unit_exists(*u) {
                return Err(format!("units: there is no unit {u}"));
            }
            if !units.contains(u) {
                units.push(*u);
            }
        }
        Ok(ChannelFields {
            name: name.to_string(),
            kind: self.kind,
            url: url.map(str::to_string),
            format: if self.kind == ChannelKind::Webhook {
                self.format
            } else {
                WebhookFormat::Generic
            },
            address: address.map(str::to_string),
            units,
            min_severity: self.min_severity,
            enabled: self.enabled,
        })
    }
}

/// A channel of the configuration as listed beside the stored ones (read-only): a URL read from the
/// environment is not shown, only the variable's name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfiguredChannel {
    /// The webhook's name, or the e-mail address.
    pub name: String,
    /// `webhook` or `email`.
    pub kind: ChannelKind,
    /// The URL written in the configuration; none when it comes from the environment.
    pub url: Option<String>,
    /// The environment variable the URL is read from.
    pub url_env: Option<String>,
    /// The webhook's body format.
    pub format: WebhookFormat,
    /// The e-mail address.
    pub address: Option<String>,
    /// The unit paths it serves; empty = every case.
    pub units: Vec<String>,
    /// The lowest severity sent (`[alerts] notify_min_severity`).
    pub min_severity: Severity,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn webhook(name: &str, url: &str) -> ChannelFields {
        ChannelFields {
            name: name.into(),
            kind: ChannelKind::Webhook,
            url: Some(url.into()),
            format: WebhookFormat::Dingtalk,
            address: None,
            units: vec![UnitId(1), UnitId(1)],
            min_severity: Severity::Medium,
            enabled: true,
        }
    }

    fn email(address: &str) -> ChannelFields {
        ChannelFields {
            kind: ChannelKind::Email,
            url: None,
            address: Some(address.into()),
            ..webhook("mail", "")
        }
    }

    #[test]
    fn a_channel_is_trimmed_and_each_bad_field_is_named_first() {
        let known = |u: UnitId| u.0 < 5;
        let taken = |n: &str| n == "jiwei";
        let ok = webhook(" 纪委 ", " https://oapi.dingtalk.com/robot/send?access_token=x ")
            .checked(known, taken)
            .unwrap();
        assert_eq!(ok.name, "纪委");
        assert_eq!(
            ok.url.as_deref(),
            Some("https://oapi.dingtalk.com/robot/send?access_token=x")
        );
        assert_eq!(ok.units, [UnitId(1)]);
        let mail = email(" chief@example.gov.cn ").checked(known, taken).unwrap();
        assert_eq!(
            (mail.address.as_deref(), mail.format),
            (Some("chief@example.gov.cn"), WebhookFormat::Generic)
        );
        assert!(
            webhook("h", "http://127.0.0.1:8080/x")
                .checked(known, taken)
                .is_ok()
        );
        assert!(webhook("h", "http://[::1]:8080/").checked(known, taken).is_ok());
        for (f, field) in [
            (webhook("", "http://a.b/"), "name: "),
            (webhook(&"长".repeat(61), "http://a.b/"), "name: "),
            (webhook(" jiwei", "http://a.b/"), "name: "),
            (webhook("h", "ftp://a.b/"), "url: "),
            (webhook("h", "javascript:alert(1)"), "url: "),
            (webhook("h", "http:///x"), "url: "),
            (webhook("h", "http://a.b/x y"), "url: "),
            (webhook("h", ""), "url: "),
            (
                ChannelFields {
                    address: Some("a@b.cn".into()),
                    ..webhook("h", "http://a.b/")
                },
                "address: ",
            ),
            (email("chief"), "address: "),
            (email("chief@localhost"), "address: "),
            (email("a b@c.cn"), "address: "),
            (email("@c.cn"), "address: "),
            (email(""), "address: "),
            (
                ChannelFields {
                    url: Some("http://a.b/".into()),
                    ..email("a@b.cn")
                },
                "url: ",
            ),
            (
                ChannelFields {
                    units: vec![UnitId(9)],
                    ..webhook("h", "http://a.b/")
                },
                "units: ",
            ),
        ] {
            let e = f.checked(known, taken).unwrap_err();
            let clash = field == "name: " && f.name.trim() == "jiwei";
            assert_eq!(matches!(e, ChannelRefusal::NameTaken(_)), clash, "{e}");
            assert!(e.to_string().starts_with(field), "{e}");
        }
    }

    #[test]
    fn a_body_takes_the_defaults_and_refuses_unknown_fields() {
        let f: ChannelFields =
            serde_json::from_str(r#"{"name":"a","kind":"email","address":"a@b.cn"}"#).unwrap();
        assert_eq!(
            (f.min_severity, f.enabled, f.units.len()),
            (Severity::Low, true, 0)
        );
        assert!(serde_json::from_str::<ChannelFields>(r#"{"name":"a","kind":"sms"}"#).is_err());
        assert!(serde_json::from_str::<ChannelFields>(r#"{"name":"a","kind":"email","token":"x"}"#).is_err());
        assert_eq!(WebhookFormat::parse("wecom"), Some(WebhookFormat::Wecom));
    }
}
