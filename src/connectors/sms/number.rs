//! Phone numbers as Twilio takes them: E.164, a `+`, the country code and the subscriber number,
//! at most 15 digits and no spaces or punctuation.

/// Whether `text` is an E.164 number (`+14155550123`).
pub fn is_e164(text: &str) -> bool {
    let Some(digits) = text.strip_prefix('+') else {
        return false;
    };
    (2..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) && !digits.starts_with('0')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plus_and_up_to_15_digits() {
        assert!(is_e164("+14155550123"));
        assert!(is_e164("+447700900123"));
        assert!(!is_e164("14155550123"));
        assert!(!is_e164("+1 415 555 0123"));
        assert!(!is_e164("+1-415-555-0123"));
        assert!(!is_e164("+0123456"));
        assert!(!is_e164("+1234567890123456"));
        assert!(!is_e164("+"));
    }
}
