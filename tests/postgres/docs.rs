//! docs/postgres.md says only what is true: its flowc.toml table is read as written.

#[test]
fn the_store_table_of_the_docs_is_read_as_written() {
    let page = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/postgres.md")).unwrap();
    let start = page.find("```toml\n").expect("a toml block") + "```toml\n".len();
    let block = &page[start..start + page[start..].find("```").unwrap()];
    let config: flowc::config::Config = toml::from_str(block).unwrap();
    assert_eq!(
        config.store.url.as_deref(),
        Some("postgres://flowc@db.internal:5432/flowc")
    );
    assert_eq!(config.store.lease.map(|d| d.get().as_secs()), Some(30));
    assert_eq!(
        flowc::store::DEFAULT_LEASE.as_secs(),
        30,
        "the default the page gives"
    );
}
