//! Text as the standard carries it (GBK) and as Tianshu keeps it (UTF-8).

use tianshu_jt808::Text;

/// GBK text as UTF-8, when it decodes cleanly and holds more than padding (NULs and spaces).
pub(crate) fn gbk_text(t: Text<'_>) -> Option<String> {
    if t.is_empty() {
        return None;
    }
    let (s, had_errors) = encoding_rs::GBK.decode_without_bom_handling(t.as_bytes());
    (!had_errors)
        .then(|| s.trim_matches(['\0', ' ']).to_string())
        .filter(|s| !s.is_empty())
}

/// UTF-8 text as GBK, or `None` when a character has no GBK form.
pub(crate) fn to_gbk(s: &str) -> Option<Vec<u8>> {
    let (bytes, _, had_errors) = encoding_rs::GBK.encode(s);
    (!had_errors).then(|| bytes.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gbk_round_trip() {
        let gbk = to_gbk("鄂B12345").unwrap();
        assert_eq!(gbk_text(Text(&gbk)).as_deref(), Some("鄂B12345"));
        assert_eq!(gbk_text(Text(b"")), None);
        assert_eq!(gbk_text(Text(b"\0 \0")), None);
    }
}
