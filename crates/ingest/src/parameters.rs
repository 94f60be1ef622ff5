//! Terminal parameters and attributes as values: a 0x0104 value read by its id's kind, a 0x8103 value
//! written by it, and a 0x0107 answer kept as text. The kinds are the codec's ([`ParameterKind::of`]); what
//! is added here is the GBK text, which the pure codec leaves to its caller.

use tianshu_jt808::{ParameterKind, TerminalAttributes};
use tianshu_model::Attributes;

use crate::text::{gbk_text, to_gbk};

/// A parameter's value as an operator reads and writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParameterValue {
    /// A BYTE, WORD or DWORD parameter.
    Number(u32),
    /// A STRING parameter.
    Text(String),
    /// Any other parameter (or one whose value does not fit its kind): the bytes as sent.
    Raw(Vec<u8>),
}

impl ParameterValue {
    /// Parameter `id`'s value `raw` (from a 0x0104), read by the kind the standard gives the id. A value
    /// whose length does not fit its kind, or text GBK cannot decode, stays raw.
    pub fn read(id: u32, raw: &[u8]) -> ParameterValue {
        let kind = ParameterKind::of(id);
        match (kind, kind.width()) {
            (_, Some(width)) if raw.len() == width => {
                let n = raw.iter().fold(0u32, |n, b| (n << 8) | u32::from(*b));
                ParameterValue::Number(n)
            }
            // Empty (or NUL only) text is a value too: an unset server address.
            (ParameterKind::Text, _) if raw.iter().all(|b| *b == 0) => ParameterValue::Text(String::new()),
            (ParameterKind::Text, _) => gbk_text(tianshu_jt808::Text(raw))
                .map_or_else(|| ParameterValue::Raw(raw.to_vec()), ParameterValue::Text),
            _ => ParameterValue::Raw(raw.to_vec()),
        }
    }

    /// The bytes a 0x8103 carries for parameter `id`, or why this value cannot be its value (a number for a
    /// STRING, a number too wide for a WORD, text GBK cannot encode, more than 255 bytes).
    pub fn write(&self, id: u32) -> Result<Vec<u8>, String> {
        let kind = ParameterKind::of(id);
        let bytes = match (self, kind, kind.width()) {
            (ParameterValue::Number(n), _, Some(width)) => {
                let max = if width == 4 {
                    u32::MAX
                } else {
                    (1u32 << (8 * width)) - 1
                };
                if *n > max {
                    return Err(format!(
                        "parameter {id:#06x}: {n} does not fit its {width} bytes (at most {max})"
                    ));
                }
                n.to_be_bytes()[4 - width..].to_vec()
            }
            (ParameterValue::Number(_), ParameterKind::Text, _) => {
                return Err(format!("parameter {id:#06x} is text: give a string"));
            }
            (ParameterValue::Number(_), _, _) => {
                return Err(format!(
                    "parameter {id:#06x} has no standard kind: give its bytes as hex"
                ));
            }
            (ParameterValue::Text(t), ParameterKind::Text, _) => {
                to_gbk(t).ok_or_else(|| format!("parameter {id:#06x}: text GBK cannot encode"))?
            }
            (ParameterValue::Text(_), _, _) => {
                return Err(format!("parameter {id:#06x} is not text: give a number or hex"));
            }
            (ParameterValue::Raw(b), _, Some(width)) if b.len() != width => {
                return Err(format!("parameter {id:#06x} is {width} bytes, {} given", b.len()));
            }
            (ParameterValue::Raw(b), _, _) => b.clone(),
        };
        if bytes.len() > 255 {
            return Err(format!("parameter {id:#06x}: {} bytes, at most 255", bytes.len()));
        }
        Ok(bytes)
    }
}

/// The attributes a 0x0107 carried, its texts read as GBK.
pub(crate) fn attributes(a: &TerminalAttributes<'_>) -> Attributes {
    let text = |t| gbk_text(t).unwrap_or_default();
    Attributes {
        terminal_type: a.terminal_type,
        maker_id: text(a.maker_id),
        model: text(a.model),
        terminal_id: text(a.terminal_id),
        iccid: format!("{:020}", a.iccid),
        hardware_version: text(a.hardware_version),
        firmware_version: text(a.firmware_version),
        gnss: a.gnss,
        network: a.network,
    }
}

#[cfg(test)]
mod tests {
    use super::ParameterValue::{Number, Raw, Text};
    use super::*;

    #[test]
    fn values_are_read_by_their_id_s_kind() {
        assert_eq!(ParameterValue::read(0x0001, &[0, 0, 0, 30]), Number(30));
        assert_eq!(ParameterValue::read(0x0031, &[0x01, 0xF4]), Number(500));
        assert_eq!(ParameterValue::read(0x0084, &[2]), Number(2));
        assert_eq!(
            ParameterValue::read(0x0013, b"gw.example.cn:6808"),
            Text("gw.example.cn:6808".into())
        );
        assert_eq!(
            ParameterValue::read(0x0083, &to_gbk("鄂B12345").unwrap()),
            Text("鄂B12345".into())
        );
        assert_eq!(ParameterValue::read(0x0013, &[0]), Text(String::new()));
        // A DWORD sent in two bytes, a maker's own id, a structured BYTE[4]: raw.
        assert_eq!(ParameterValue::read(0x0001, &[0, 30]), Raw(vec![0, 30]));
        assert_eq!(ParameterValue::read(0xF001, &[1, 2, 3]), Raw(vec![1, 2, 3]));
        assert_eq!(
            ParameterValue::read(0x0032, &[22, 50, 10, 30]),
            Raw(vec![22, 50, 10, 30])
        );
    }

    #[test]
    fn values_are_written_by_their_id_s_kind_or_refused_with_the_reason() {
        assert_eq!(Number(30).write(0x0001), Ok(vec![0, 0, 0, 30]));
        assert_eq!(Number(500).write(0x0031), Ok(vec![0x01, 0xF4]));
        assert_eq!(
            Text("鄂B12345".into()).write(0x0083),
            Ok(to_gbk("鄂B12345").unwrap())
        );
        assert_eq!(Raw(vec![22, 50, 10, 30]).write(0x0032), Ok(vec![22, 50, 10, 30]));
        for (value, id, why) in [
            (Number(70_000), 0x0031, "does not fit its 2 bytes"),
            (Number(1), 0x0013, "is text"),
            (Number(1), 0xF001, "give its bytes as hex"),
            (Text("x".into()), 0x0001, "is not text"),
            (Text("😀".into()), 0x0013, "GBK cannot encode"),
            (Raw(vec![1, 2]), 0x0001, "is 4 bytes, 2 given"),
            (Raw(vec![0; 256]), 0xF001, "at most 255"),
        ] {
            let e = value.write(id).unwrap_err();
            assert!(e.contains(why), "{value:?} for {id:#06x}: {e}");
        }
    }
}
