//! Connection strings as they may be shown: in logs, error messages and the welcome banner.

/// `url` with every secret it carries masked: the password of its user-info (`scheme://user:***@host`) and
/// the value of any `password=` parameter (`?password=***`, `sslpassword=***`, or a libpq key-value string's
/// `password=***`). Everything else, the user name included, is kept so the operator can tell which server
/// it was.
pub fn redact_url(url: &str) -> String {
    let mut out = match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    };
    let mut from = 0;
    while let Some(found) = out[from..].to_ascii_lowercase().find("password=") {
        let value_start = from + found + "password=".len();
        let value_end = out[value_start..]
            .find(['&', ' ', ';'])
            .map_or(out.len(), |n| value_start + n);
        out.replace_range(value_start..value_end, "***");
        from = value_start + 3;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn passwords_are_masked_wherever_the_url_carries_them() {
        assert_eq!(
            redact_url("postgres://u:secret@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(redact_url("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact_url("tianshu-data/tianshu.db"), "tianshu-data/tianshu.db");
        assert_eq!(
            redact_url("postgres://u@h/db?password=secret&sslmode=require"),
            "postgres://u@h/db?password=***&sslmode=require"
        );
        assert_eq!(
            redact_url("postgres://u@h/db?sslmode=require&sslpassword=k3y&Password=x"),
            "postgres://u@h/db?sslmode=require&sslpassword=***&Password=***"
        );
        assert_eq!(
            redact_url("host=h user=u password=secret dbname=d"),
            "host=h user=u password=*** dbname=d"
        );
        assert_eq!(
            redact_url("mqtts://device:p@ss@broker:8883"),
            "mqtts://device:***@broker:8883"
        );
        assert_eq!(redact_url("mqtt://127.0.0.1:1883"), "mqtt://127.0.0.1:1883");
    }
}
