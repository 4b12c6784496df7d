//! Prints a job's column reference as Markdown, for docs/reference.md:
//! `cargo run --example columns -- accounts|requests`.

fn main() {
    let which = std::env::args().nth(1).unwrap_or_default();
    let schema = match which.as_str() {
        "accounts" => &pam360_bulk::accounts::SCHEMA,
        "requests" => &pam360_bulk::requests::SCHEMA,
        _ => {
            eprintln!("usage: columns accounts|requests");
            std::process::exit(2);
        }
    };
    print!("{}", schema.markdown());
}
