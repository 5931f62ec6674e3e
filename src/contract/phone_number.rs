//! Phone numbers as Twilio takes them: E.164, a `+`, the country code and the subscriber number,
//! at most 15 digits and no spaces or punctuation. Shared by the checker (literal `to:` values,
//! E0309) and the sms connector (every value, at run time).

/// Whether `text` is an E.164 number (`+14155550123`).
pub fn is_e164(text: &str) -> bool {
    let Some(digits) = text.strip_prefix('+') else {
        return false;
    };
    (2..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) && !digits.starts_with('0')
}

/// What is wrong with `text` as an E.164 number, in words that never repeat the number itself
/// (a recipient's number is personal data and must not reach logs or error messages).
pub fn shape_problem(text: &str) -> String {
    let digits = text.chars().filter(char::is_ascii_digit).count();
    let others: Vec<&str> = [
        (text.chars().any(char::is_whitespace), "spaces"),
        (text.chars().any(|c| "-().".contains(c)), "punctuation"),
        (text.chars().any(char::is_alphabetic), "letters"),
    ]
    .into_iter()
    .filter_map(|(has, what)| has.then_some(what))
    .collect();
    if text.trim().is_empty() {
        "it is empty".to_string()
    } else if !others.is_empty() {
        format!("it has {}", others.join(" and "))
    } else if !text.starts_with('+') {
        format!("it has {digits} digits but no leading `+` and country code")
    } else if text[1..].starts_with('0') {
        "its country code starts with 0".to_string()
    } else if !(2..=15).contains(&digits) {
        format!("it has {digits} digits where E.164 allows 2 to 15")
    } else {
        "it has characters other than `+` and digits".to_string()
    }
}

/// The E.164 form of `text` when it can be told without guessing the country: the number
/// written with spaces or punctuation, or with `00` for the international prefix.
pub fn suggest_e164(text: &str) -> Option<String> {
    let trimmed = text.trim();
    if trimmed.chars().any(char::is_alphabetic) {
        return None;
    }
    let digits: String = trimmed.chars().filter(char::is_ascii_digit).collect();
    let candidate = if trimmed.starts_with('+') {
        format!("+{digits}")
    } else if let Some(rest) = digits.strip_prefix("00") {
        format!("+{rest}")
    } else {
        return None;
    };
    is_e164(&candidate).then_some(candidate)
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

    #[test]
    fn the_shape_is_told_without_the_digits() {
        let cases = [
            ("+1 415 555 0123", "it has spaces"),
            ("+1 (415) 555-0123", "it has spaces and punctuation"),
            ("call me", "it has spaces and letters"),
            (
                "4155550123",
                "it has 10 digits but no leading `+` and country code",
            ),
            ("+0123456", "its country code starts with 0"),
            ("+1234567890123456", "it has 16 digits where E.164 allows 2 to 15"),
            ("", "it is empty"),
        ];
        for (number, shape) in cases {
            let told = shape_problem(number);
            assert_eq!(told, shape, "{number}");
            assert!(!told.contains("415"), "{told}");
        }
    }

    #[test]
    fn a_fix_is_offered_only_when_the_country_is_written() {
        assert_eq!(suggest_e164("+1 (415) 555-0123").as_deref(), Some("+14155550123"));
        assert_eq!(suggest_e164("0044 7700 900123").as_deref(), Some("+447700900123"));
        assert_eq!(suggest_e164("415 555 0123"), None);
        assert_eq!(suggest_e164("+1 415 CALL NOW"), None);
    }
}
