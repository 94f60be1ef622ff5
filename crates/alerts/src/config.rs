//! The `[alerts]` table: how cases are raised, escalated, routed and delivered.
//!
//! Recipients are addressed by unit: a case for a car of unit U notifies the channels configured for U
//! and for `notify_parent_levels` of its ancestors (a channel with no units receives every case). The
//! live web feed carries every case with the units it concerns; the web page shows it to the
//! supervisors whose scope includes one of them.

use serde::{Deserialize, Serialize};
use tianshu_rules::Severity;

/// The `[alerts]` table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AlertsConfig {
    /// Whether the alert runtime runs at all. Default true.
    pub enabled: bool,
    /// Cases still open or acknowledged (not explained) this long after they were raised escalate to
    /// the discipline inspectors by themselves. Hours. Default 72.
    pub auto_escalate_after_hours: f64,
    /// Besides the car's own unit, notify this many levels of parent units. Default 1.
    pub notify_parent_levels: u32,
    /// Episodes below this severity are recorded as cases but not notified. Default `low` (all).
    pub notify_min_severity: Severity,
    /// How often reference data (calendars, geofences, orders) is checked for changes; an order
    /// approved after the fact is picked up within this time. Seconds. Default 30.
    pub reference_reload_secs: u64,
    /// How often time-based checks run (silence, the nightly depot check, escalation). Seconds. Default 60.
    pub tick_secs: u64,
    /// How often the outbox is polled for due deliveries. Milliseconds. Default 1000.
    pub outbox_poll_ms: u64,
    /// On start, each car's rule state is rebuilt from this many hours of its stored track (and from
    /// before the start of any of its cases still in progress), so an episode under way when the
    /// process stopped continues as the same case. 0 starts every car afresh. Hours. Default 12.
    pub resume_hours: f64,
    /// How often each car's rule state is saved in the store (and once more at a clean stop), with the
    /// receive time it covers: a restart restores it and feeds only the points received since, instead
    /// of replaying `resume_hours` of track. A state saved under another rules configuration is ignored
    /// (the track is replayed). 0 saves nothing and always replays. Seconds. Default 300.
    pub state_save_secs: u64,
    /// Capacity of the live web feed (a broadcast); a slow subscriber loses the oldest notices and
    /// the loss is counted. Notices. Default 1024.
    pub feed_capacity: usize,
    /// Notification channels.
    pub notifications: NotificationsConfig,
}

impl Default for AlertsConfig {
    fn default() -> Self {
        AlertsConfig {
            enabled: true,
            auto_escalate_after_hours: 72.0,
            notify_parent_levels: 1,
            notify_min_severity: Severity::Low,
            reference_reload_secs: 30,
            tick_secs: 60,
            outbox_poll_ms: 1000,
            resume_hours: 12.0,
            state_save_secs: 300,
            feed_capacity: 1024,
            notifications: NotificationsConfig::default(),
        }
    }
}

impl AlertsConfig {
    /// The configured channels as listed beside the stored ones: each webhook (its URL only when written
    /// in the file, not when read from the environment) and each e-mail recipient.
    pub fn listed_channels(&self) -> Vec<tianshu_rules::channels::ConfiguredChannel> {
        use tianshu_rules::channels::{ChannelKind, ConfiguredChannel};
        let n = &self.notifications;
        let hooks = n.webhooks.iter().map(|w| ConfiguredChannel {
            name: w.name.clone(),
            kind: ChannelKind::Webhook,
            url: if w.url_env.is_some() { None } else { w.url.clone() },
            url_env: w.url_env.clone(),
            format: w.format,
            address: None,
            units: w.units.clone(),
            min_severity: self.notify_min_severity,
        });
        let mails = n
            .email
            .iter()
            .flat_map(|e| &e.recipients)
            .map(|r| ConfiguredChannel {
                name: r.address.clone(),
                kind: ChannelKind::Email,
                url: None,
                url_env: None,
                format: WebhookFormat::Generic,
                address: Some(r.address.clone()),
                units: vec![r.unit.clone()],
                min_severity: self.notify_min_severity,
            });
        hooks.chain(mails).collect()
    }
}

/// `[alerts.notifications]`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NotificationsConfig {
    /// Webhooks (`[[alerts.notifications.webhooks]]`). Default none.
    pub webhooks: Vec<WebhookConfig>,
    /// E-mail over SMTP. Default none.
    pub email: Option<EmailConfig>,
    /// Retries of failed deliveries.
    pub retry: RetryConfig,
}

/// The body format of a webhook (shared with the stored channels).
pub use tianshu_rules::channels::WebhookFormat;

/// One webhook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// A name for logs and metrics (`dingtalk-jiwei`); the outbox records deliveries by this name, so
    /// the URL and its token never reach the database.
    pub name: String,
    /// `http://` or `https://` URL the notification is POSTed to. Robot URLs carry an access token:
    /// prefer `url_env`. Default none.
    #[serde(default)]
    pub url: Option<String>,
    /// Name of an environment variable holding the URL (with its token), read at each delivery.
    /// Default none.
    #[serde(default)]
    pub url_env: Option<String>,
    /// Body format. Default `generic`.
    #[serde(default)]
    pub format: WebhookFormat,
    /// Unit paths whose cases this webhook receives (with their sub-units down to
    /// `notify_parent_levels` levels below); empty = every case.
    #[serde(default)]
    pub units: Vec<String>,
    /// Per-attempt timeout. Seconds. Default 10.
    #[serde(default = "default_timeout_secs")]
    pub timeout_secs: u64,
}

const fn default_timeout_secs() -> u64 {
    10
}

impl WebhookConfig {
    /// The URL to post to: `url_env`'s value when set, else `url`.
    pub fn resolve_url(&self) -> Option<String> {
        self.url_env
            .as_ref()
            .and_then(|v| std::env::var(v).ok())
            .or_else(|| self.url.clone())
    }
}

/// How the SMTP connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum SmtpSecurity {
    /// Plain SMTP (a relay on a trusted network).
    #[default]
    None,
    /// STARTTLS upgrade (port 587).
    Starttls,
    /// TLS from the first byte (port 465).
    Tls,
}

/// E-mail delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailConfig {
    /// SMTP server host.
    pub smtp_host: String,
    /// SMTP server port. Default 25.
    #[serde(default = "default_smtp_port")]
    pub smtp_port: u16,
    /// Connection security. Default `none`.
    #[serde(default)]
    pub security: SmtpSecurity,
    /// SMTP user name, when the server needs a login.
    #[serde(default)]
    pub username: Option<String>,
    /// Name of the environment variable holding the SMTP password (never the password itself).
    #[serde(default)]
    pub password_env: Option<String>,
    /// Sender address (`天枢 <tianshu@example.gov.cn>`).
    pub from: String,
    /// Who receives the cases of which unit.
    pub recipients: Vec<EmailRecipient>,
    /// Per-attempt timeout. Seconds. Default 20.
    #[serde(default = "default_smtp_timeout_secs")]
    pub timeout_secs: u64,
}

const fn default_smtp_port() -> u16 {
    25
}

const fn default_smtp_timeout_secs() -> u64 {
    20
}

/// An e-mail recipient for a unit's cases.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailRecipient {
    /// Unit path (`黄石市/市委办公室`); the recipient gets the cases of this unit's cars and of its
    /// sub-units' cars down to `notify_parent_levels` levels below it.
    pub unit: String,
    /// E-mail address.
    pub address: String,
}

/// Retries with exponential backoff.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetryConfig {
    /// Attempts before a delivery is given up (and logged as failed). Default 8.
    pub max_attempts: u32,
    /// Wait after the first failure; doubles each time. Seconds. Default 5.
    pub initial_backoff_secs: u64,
    /// Longest wait between attempts. Seconds. Default 3600.
    pub max_backoff_secs: u64,
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig {
            max_attempts: 8,
            initial_backoff_secs: 5,
            max_backoff_secs: 3600,
        }
    }
}

impl RetryConfig {
    /// The wait after the `attempts`-th failed attempt (1-based). Milliseconds.
    pub fn backoff_ms(&self, attempts: u32) -> i64 {
        let exp = attempts.saturating_sub(1).min(30);
        let secs = self
            .initial_backoff_secs
            .saturating_mul(1u64 << exp)
            .min(self.max_backoff_secs);
        i64::try_from(secs.saturating_mul(1000)).unwrap_or(i64::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_defaults() {
        let c: AlertsConfig = toml::from_str(
            r#"
            auto_escalate_after_hours = 48
            [[notifications.webhooks]]
            name = "jiwei"
            url_env = "TIANSHU_DINGTALK_URL"
            format = "dingtalk"
            units = ["黄石市"]
            [notifications.email]
            smtp_host = "smtp.example.gov.cn"
            from = "tianshu@example.gov.cn"
            recipients = [{ unit = "黄石市/市委办公室", address = "chief@example.gov.cn" }]
            "#,
        )
        .unwrap();
        assert_eq!(c.auto_escalate_after_hours, 48.0);
        assert_eq!(c.notifications.webhooks[0].format, WebhookFormat::Dingtalk);
        assert_eq!(c.notifications.webhooks[0].timeout_secs, 10);
        assert_eq!(
            c.notifications.webhooks[0].url_env.as_deref(),
            Some("TIANSHU_DINGTALK_URL")
        );
        // An unset variable falls back to `url`.
        let w = WebhookConfig {
            url: Some("http://127.0.0.1:9/x".into()),
            url_env: Some("TIANSHU_TEST_UNSET_VARIABLE_7F3A".into()),
            ..c.notifications.webhooks[0].clone()
        };
        assert_eq!(w.resolve_url().as_deref(), Some("http://127.0.0.1:9/x"));
        assert!(toml::from_str::<AlertsConfig>("bogus = 1").is_err());
        let text = toml::to_string(&AlertsConfig::default()).unwrap();
        assert_eq!(
            toml::from_str::<AlertsConfig>(&text).unwrap(),
            AlertsConfig::default()
        );
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let r = RetryConfig {
            max_attempts: 8,
            initial_backoff_secs: 5,
            max_backoff_secs: 60,
        };
        assert_eq!(
            [1, 2, 3, 4, 5].map(|a| r.backoff_ms(a)),
            [5_000, 10_000, 20_000, 40_000, 60_000]
        );
    }
}
