//! Did-you-mean: the closest known name to a misspelt one, by edit distance.

/// The candidate closest to `wanted`, if it is close enough to be what was meant.
pub(crate) fn closest<'a>(wanted: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let wanted_lower = wanted.to_ascii_lowercase();
    // A third of the length (at least one edit) catches typos without suggesting unrelated names.
    let limit = (wanted.chars().count() / 3).max(1);
    let mut best: Option<(usize, &'a str)> = None;
    for candidate in candidates {
        if candidate == wanted {
            continue;
        }
        let candidate_lower = candidate.to_ascii_lowercase();
        let shorter = candidate_lower.len().min(wanted_lower.len());
        let distance = if candidate.eq_ignore_ascii_case(wanted) {
            0
        } else if shorter >= 4
            && (wanted_lower.starts_with(&candidate_lower) || candidate_lower.starts_with(&wanted_lower))
        {
            // `lowercase` for `lower`, `find_or_create_page` for `find_or_create`.
            limit
        } else {
            strsim::damerau_levenshtein(&wanted_lower, &candidate.to_ascii_lowercase())
        };
        // Ties go to the alphabetically first name, so suggestions do not depend on hash order.
        if distance <= limit && best.is_none_or(|(d, name)| (distance, candidate) < (d, name)) {
            best = Some((distance, candidate));
        }
    }
    best.map(|(_, name)| name)
}

/// `` did you mean `x`? `` or `otherwise`.
pub(crate) fn help_or<'a>(
    wanted: &str,
    candidates: impl IntoIterator<Item = &'a str>,
    otherwise: impl FnOnce() -> String,
) -> String {
    match closest(wanted, candidates) {
        Some(name) => format!("did you mean `{name}`?"),
        None => otherwise(),
    }
}

/// `` `a`, `b` and `c` ``
pub(crate) fn list<S: AsRef<str>>(names: impl IntoIterator<Item = S>) -> String {
    let names: Vec<String> = names.into_iter().map(|n| format!("`{}`", n.as_ref())).collect();
    match names.len() {
        0 => "nothing".to_string(),
        1 => names[0].clone(),
        n => format!("{} and {}", names[..n - 1].join(", "), names[n - 1]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_names_only() {
        assert_eq!(closest("clinet", ["client", "booking"]), Some("client"));
        assert_eq!(closest("x", ["client"]), None);
        assert_eq!(closest("Client", ["client"]), Some("client"));
        assert_eq!(list(["a", "b", "c"]), "`a`, `b` and `c`");
    }
}
