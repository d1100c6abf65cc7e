//! Criterion benchmarks: evaluation alone (record already parsed) and parse + evaluation,
//! for every model card of the shared fixtures, on one thread.
//!
//! cargo bench -p modelgate-tests --bench evaluate

use criterion::{Criterion, criterion_group, criterion_main};
use modelgate_engine::{ParseOptions, UseContext};
use modelgate_tests::{T0, fixture_cards, model_ref_for, pack};
use std::hint::black_box;
use std::time::Duration;

fn bench(c: &mut Criterion) {
    let Some(cards) = fixture_cards() else { return };
    let pack = pack();
    let ctx = UseContext::default();
    let docs: Vec<(String, Vec<u8>, ParseOptions)> = cards
        .iter()
        .map(|p| {
            let name = p.file_stem().unwrap().to_string_lossy().into_owned();
            (
                name,
                std::fs::read(p).unwrap(),
                ParseOptions {
                    model_ref: Some(model_ref_for(p)),
                    ..ParseOptions::default()
                },
            )
        })
        .collect();
    let records: Vec<_> = docs
        .iter()
        .map(|(_, b, o)| pack.parse(b, None, o).unwrap())
        .collect();

    let mut all = c.benchmark_group("all-cards");
    all.measurement_time(Duration::from_secs(5));
    all.bench_function(
        "evaluate (all cards, one iteration = every card once)",
        |b| {
            b.iter(|| {
                for r in &records {
                    black_box(pack.evaluate(black_box(r), &ctx, T0, "bench"));
                }
            })
        },
    );
    all.bench_function(
        "parse+evaluate (all cards, one iteration = every card once)",
        |b| {
            b.iter(|| {
                for (_, bytes, opts) in &docs {
                    let r = pack.parse(black_box(bytes), None, opts).unwrap();
                    black_box(pack.evaluate(&r, &ctx, T0, "bench"));
                }
            })
        },
    );
    all.finish();

    let mut g = c.benchmark_group("per-card");
    g.sample_size(20)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1));
    for ((name, bytes, opts), rec) in docs.iter().zip(&records) {
        g.bench_function(format!("evaluate/{name}"), |b| {
            b.iter(|| black_box(pack.evaluate(black_box(rec), &ctx, T0, "bench")))
        });
        g.bench_function(format!("parse+evaluate/{name}"), |b| {
            b.iter(|| {
                let r = pack.parse(black_box(bytes), None, opts).unwrap();
                black_box(pack.evaluate(&r, &ctx, T0, "bench"))
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
