//! Baseline for the benchmarks: a bare csv `ByteRecord` pass over a file.
//! `cargo run --release --example bare_csv -- FILE`
fn main() {
    let path = std::env::args().nth(1).expect("usage: bare_csv FILE");
    let t = std::time::Instant::now();
    let mut r = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_path(&path)
        .unwrap();
    let mut rec = csv::ByteRecord::new();
    let (mut rows, mut bytes) = (0u64, 0usize);
    while r.read_byte_record(&mut rec).unwrap() {
        rows += 1;
        bytes += rec.as_slice().len();
    }
    println!(
        "{rows} records, {bytes} bytes in {:.3} s",
        t.elapsed().as_secs_f64()
    );
}
