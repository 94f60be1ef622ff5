//! Who may open a main link: the answer to a 0x1001 login, decided from the configuration alone (pure).
//!
//! The standard's result codes (0x1002 RESULT): 0x02 when the header's access code (接入码) names no lower
//! platform, or a 2019 body names another one; 0x03 when the user is not the one registered for it;
//! 0x04 when the password is wrong. The access code is checked first, so a peer learns nothing about the
//! credentials of a platform it is not.

use tianshu_jt809::{Login, LoginAnswer};

use crate::config::LowerPlatform;

/// The lower platform `login` (sent with `access_code` in its header) logs in as, or the RESULT code
/// that refuses it.
pub fn verdict<'a>(
    peers: &'a [LowerPlatform],
    access_code: u32,
    login: &Login,
) -> Result<&'a LowerPlatform, u8> {
    let peer = peers
        .iter()
        .find(|p| p.access_code == access_code)
        .ok_or(LoginAnswer::BAD_ACCESS_CODE)?;
    if login.center_id != 0 && login.center_id != access_code {
        return Err(LoginAnswer::BAD_ACCESS_CODE);
    }
    if login.user_id != peer.user_id {
        return Err(LoginAnswer::UNKNOWN_USER);
    }
    if login.password != peer.password {
        return Err(LoginAnswer::BAD_PASSWORD);
    }
    Ok(peer)
}

/// A bounded label for a RESULT code (metrics).
pub fn result_label(result: u8) -> &'static str {
    match result {
        LoginAnswer::OK => "ok",
        LoginAnswer::BAD_IP => "bad_ip",
        LoginAnswer::BAD_ACCESS_CODE => "bad_access_code",
        LoginAnswer::UNKNOWN_USER => "unknown_user",
        LoginAnswer::BAD_PASSWORD => "bad_password",
        LoginAnswer::BUSY => "busy",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peers() -> Vec<LowerPlatform> {
        vec![LowerPlatform {
            password: "pw123456".into(),
            ..LowerPlatform::new("city", 4200, 77, &["City"])
        }]
    }

    fn login(user_id: u32, password: &str, center_id: u32) -> Login {
        Login {
            user_id,
            password: password.into(),
            center_id,
            down_link_ip: "127.0.0.1".into(),
            down_link_port: 0,
        }
    }

    #[test]
    fn the_registered_credentials_log_in() {
        let peers = peers();
        assert_eq!(
            verdict(&peers, 4200, &login(77, "pw123456", 0)).map(|p| p.name.as_str()),
            Ok("city")
        );
        assert_eq!(
            verdict(&peers, 4200, &login(77, "pw123456", 4200)).map(|p| p.name.as_str()),
            Ok("city")
        );
    }

    #[test]
    fn each_refusal_carries_the_standards_code() {
        let peers = peers();
        assert_eq!(verdict(&peers, 4201, &login(77, "pw123456", 0)).err(), Some(0x02));
        assert_eq!(
            verdict(&peers, 4200, &login(77, "pw123456", 4201)).err(),
            Some(0x02)
        );
        assert_eq!(verdict(&peers, 4200, &login(78, "pw123456", 0)).err(), Some(0x03));
        assert_eq!(verdict(&peers, 4200, &login(77, "wrong", 0)).err(), Some(0x04));
        // The access code comes first: a stranger learns nothing of the credentials.
        assert_eq!(verdict(&peers, 1, &login(78, "wrong", 0)).err(), Some(0x02));
    }
}
