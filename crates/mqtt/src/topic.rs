//! Which subscription a topic belongs to, and the terminal its last level names.

use tianshu_model::Phone;

use crate::config::{PayloadKind, Subscription};
use tianshu_ingest::uplink::Refusal as Rejection;

/// The configured filters, for routing incoming topics.
#[derive(Debug, Clone)]
pub struct TopicRoutes {
    /// (filter levels without any `$share/<group>/` prefix, payload kind), in configuration order.
    filters: Vec<(Vec<String>, PayloadKind)>,
}

/// The filter a subscription matches topics with: `$share/<group>/` is how it is subscribed, not part of
/// the topics delivered.
pub fn strip_share(filter: &str) -> &str {
    match filter.strip_prefix("$share/") {
        Some(rest) => rest.split_once('/').map_or(rest, |(_, f)| f),
        None => filter,
    }
}

/// MQTT topic matching: `+` is one level, `#` (last) is any number of levels.
pub fn matches(filter: &[String], topic: &str) -> bool {
    let mut levels = topic.split('/');
    for f in filter {
        if f == "#" {
            return true;
        }
        match levels.next() {
            Some(level) if f == "+" || f == level => {}
            _ => return false,
        }
    }
    levels.next().is_none()
}

impl TopicRoutes {
    /// Routes for `subscriptions`.
    pub fn new(subscriptions: &[Subscription]) -> Self {
        TopicRoutes {
            filters: subscriptions
                .iter()
                .map(|s| {
                    (
                        strip_share(&s.filter).split('/').map(str::to_string).collect(),
                        s.payload,
                    )
                })
                .collect(),
        }
    }

    /// The payload kind of `topic` and the terminal its last level names.
    pub fn route(&self, topic: &str) -> Result<(PayloadKind, Phone), Rejection> {
        let kind = self
            .filters
            .iter()
            .find(|(f, _)| matches(f, topic))
            .map(|(_, k)| *k)
            .ok_or_else(|| Rejection::new("bad_topic", format!("{topic} matches no configured filter")))?;
        let last = topic.rsplit('/').next().unwrap_or_default();
        let phone = Phone::parse(last).map_err(|e| {
            Rejection::new(
                "bad_topic",
                format!("last level of {topic} is not a phone number: {e}"),
            )
        })?;
        Ok((kind, phone))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::default_subscriptions;

    #[test]
    fn default_routes() {
        let r = TopicRoutes::new(&default_subscriptions());
        assert_eq!(
            r.route("tianshu/v1/in/json/013800138000").unwrap(),
            (PayloadKind::Json, Phone(13_800_138_000))
        );
        assert_eq!(r.route("tianshu/v1/in/jt808/12").unwrap().0, PayloadKind::Jt808);
        assert_eq!(r.route("tianshu/v1/in/json/abc").unwrap_err().reason, "bad_topic");
        assert_eq!(r.route("tianshu/v1/in/xml/1").unwrap_err().reason, "bad_topic");
        assert_eq!(r.route("tianshu/v1/in/json/1/2").unwrap_err().reason, "bad_topic");
    }

    #[test]
    fn shared_subscriptions_match_their_topics() {
        let subs = vec![Subscription {
            filter: "$share/tianshu/fleet/#".into(),
            payload: PayloadKind::Json,
        }];
        let r = TopicRoutes::new(&subs);
        assert_eq!(r.route("fleet/a/b/42").unwrap(), (PayloadKind::Json, Phone(42)));
        assert_eq!(strip_share("$share/g/a/+"), "a/+");
        assert_eq!(strip_share("a/+"), "a/+");
    }
}
