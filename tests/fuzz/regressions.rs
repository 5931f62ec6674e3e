//! Every finding of the fuzz targets, kept as a plain test.

use super::targets;

/// Found by `damaged_seeds` (a 3,200-case run): a `{{` left unclosed in a string of
/// `flows/exhibition_planning.flow`. The string the grammar could not read sent its recovery
/// rule through the braces of the rest of the file, so each flow after it failed only at the end
/// of the file and its time grew with the square of what follows (debug build: 15 KB 0.5 s, 30 KB 1.3 s, 60 KB 5.3 s, 120 KB over a minute; the intact files
/// parse in 0.05-0.6 s). Fixed in the lexical pass: the `{{` left open is reported there and
/// blanked out of the repaired text, so the grammar reads a plain string (the same 75 KB now
/// parses in 0.2 s, as intact text does).
#[test]
fn an_unclosed_interpolation_keeps_recovery_linear() {
    let src = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/flows/exhibition_planning.flow"
    ))
    .expect("the seed");
    let intact = "\"Complete the artist record for {{ exhibition.Name }}\"";
    assert!(
        src.contains(intact),
        "the seed changed: find another string to break"
    );
    let broken = src.replacen(
        intact,
        "\"Complete the artist record for {{ exhibition.Name },",
        1,
    );
    // The same flows again after it, as a long file would have.
    let rest: String = broken.splitn(6, '\n').nth(5).unwrap_or_default().to_string();
    targets::source(format!("{broken}{}", rest.repeat(3))).unwrap();
}
