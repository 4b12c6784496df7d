//! The README's column reference is generated from the definitions the code
//! uses; this keeps the two in step.

#[test]
fn readme_column_tables_match_the_code() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    for (name, schema) in [
        ("accounts", &pam360_bulk::accounts::SCHEMA),
        ("requests", &pam360_bulk::requests::SCHEMA),
    ] {
        let begin = format!("<!-- columns:{name} -->\n");
        let end = format!("<!-- /columns:{name} -->");
        let start = readme
            .find(&begin)
            .unwrap_or_else(|| panic!("README lacks {begin}"))
            + begin.len();
        let stop = readme[start..].find(&end).unwrap() + start;
        assert_eq!(
            &readme[start..stop],
            schema.markdown(),
            "README's {name} columns are stale: paste `cargo run --example columns -- {name}`"
        );
    }
}
