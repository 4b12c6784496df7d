//! Criterion benchmarks of the pipeline's stages, in process:
//! `cargo bench --bench stages`. The end-to-end figures are in `e2e`.

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use pam360_bulk::accounts::{Accounts, SCHEMA};
use pam360_bulk::collect::Collector;
use pam360_bulk::input::{RawRow, RowSink};
use pam360_bulk::job::Job;
use pam360_bulk::op::Op;
use pam360_bulk::op::add_accounts::AddAccounts;

const COLUMNS: [&str; 7] = [
    "RESOURCEID",
    "ACCOUNTNAME",
    "PASSWORD",
    "ACCOUNTPASSWORDPOLICY",
    "RECORD_RDP_SESSIONS",
    "ACCOUNT_RESOURCE_GROUP_IDS",
    "NOTES",
];

fn rows(n: usize) -> Vec<RawRow> {
    (0..n)
        .map(|i| {
            let mut row = RawRow {
                line: i as u64 + 2,
                ..RawRow::default()
            };
            for f in [
                (10_000 + i % 5_000).to_string(),
                format!("svc_acct_{i:08}"),
                format!("Pw&{i}+x=%y\"q"),
                "Strong".into(),
                if i % 2 == 0 { "true" } else { "false" }.into(),
                "3002;3003".into(),
                format!("migrated from vault batch {}", i / 1000),
            ] {
                row.record.push_field(&f);
            }
            row
        })
        .collect()
}

fn header() -> Vec<String> {
    COLUMNS.iter().map(|s| s.to_string()).collect()
}

fn stages(c: &mut Criterion) {
    let batch = rows(4096);
    let names = header();
    let resolved = SCHEMA.resolve(&names, false).unwrap();

    let mut g = c.benchmark_group("stages");
    g.throughput(Throughput::Elements(batch.len() as u64));
    g.bench_function("check one row at a time (4096 rows)", |b| {
        b.iter(|| {
            for r in &batch {
                std::hint::black_box(Accounts.check(&resolved, r).is_ok());
            }
        })
    });
    g.bench_function("collect: check in parallel + duplicates (4096 rows)", |b| {
        b.iter_batched(
            || Collector::new(&Accounts, false, None),
            |mut collector| {
                collector.header(&names).unwrap();
                collector.rows(&batch).unwrap();
                collector.finish()
            },
            BatchSize::SmallInput,
        )
    });
    let mut collector = Collector::new(&Accounts, false, None);
    collector.header(&names).unwrap();
    collector.rows(&batch).unwrap();
    let data = collector.finish();
    let all: Vec<u32> = (0..data.items.len() as u32).collect();
    g.bench_function("plan: group and chunk (4096 rows)", |b| {
        b.iter(|| {
            pam360_bulk::plan::plan(&Accounts, &data.items, &data.orgs, all.iter().copied(), 50)
        })
    });
    g.finish();

    let mut g = c.benchmark_group("request body");
    let items: Vec<_> = data.items[..50].iter().map(|c| &c.item).collect();
    g.throughput(Throughput::Elements(50));
    g.bench_function("build + form-encode a 50-account body", |b| {
        b.iter(|| {
            let call = AddAccounts {
                resource_id: 901,
                org: None,
                accounts: items.clone(),
            }
            .call();
            form_urlencoded::Serializer::new(String::new())
                .append_pair("INPUT_DATA", call.input.as_deref().unwrap())
                .finish()
        })
    });
    g.finish();
}

criterion_group!(benches, stages);
criterion_main!(benches);
