//! How many segments Twilio bills for a text message: GSM-7 text fits 160 characters in one
//! segment and 153 per part when split; anything else goes as UCS-2, 70 and 67 UTF-16 units.
//! The Twilio emulator answers `num_segments` with it, and the checker warns with it when a
//! template's SMS part needs more than one segment (W0007).

/// The GSM-7 basic character set: one septet each.
const GSM: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
/// The GSM-7 extension table: two septets each (an escape, then the character).
const GSM_EXTENDED: &str = "^{}\\[~]|€\u{c}";

/// How many segments Twilio bills for `body`.
pub fn segments(body: &str) -> usize {
    let septets: Option<usize> = body
        .chars()
        .map(|c| {
            if GSM.contains(c) {
                Some(1)
            } else if GSM_EXTENDED.contains(c) {
                Some(2)
            } else {
                None
            }
        })
        .sum();
    let (units, single, part) = match septets {
        Some(n) => (n, 160, 153),
        None => (body.encode_utf16().count(), 70, 67),
    };
    if units <= single {
        1
    } else {
        units.div_ceil(part)
    }
}

/// The first character of `body` outside GSM-7, which makes the whole message go as UCS-2 (70
/// characters to a segment); none when it goes as GSM-7.
pub fn first_outside_gsm7(body: &str) -> Option<char> {
    body.chars()
        .find(|c| !GSM.contains(*c) && !GSM_EXTENDED.contains(*c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_as_twilio_counts_them() {
        assert_eq!(segments("Hello"), 1);
        assert_eq!(segments(&"a".repeat(160)), 1);
        assert_eq!(segments(&"a".repeat(161)), 2);
        assert_eq!(segments(&"a".repeat(306)), 2);
        assert_eq!(segments(&"a".repeat(307)), 3);
        // One character outside GSM-7 makes the whole message UCS-2.
        assert_eq!(segments(&format!("{}😀", "a".repeat(60))), 1);
        assert_eq!(segments(&format!("{}ł", "a".repeat(70))), 2);
        // Extended characters take two septets.
        assert_eq!(segments(&"€".repeat(80)), 1);
        assert_eq!(segments(&"€".repeat(81)), 2);
        assert_eq!(first_outside_gsm7("Café at 10:00 [room 2]"), None);
        assert_eq!(first_outside_gsm7("Zoë's session 🙂"), Some('ë'));
    }
}
