#[test]
fn show() {
    let src = std::fs::read_to_string("tests/fmt/messy.flow").unwrap();
    match flowc::syntax::format(&src) {
        Ok(out) => { println!("{out}"); let again = flowc::syntax::format(&out).unwrap(); assert_eq!(again, out); }
        Err(d) => panic!("{d:#?}"),
    }
}
