//! Criterion benchmarks: evaluation alone (record already parsed) and parse + evaluation,
//! for every model card of the shared fixtures, on one thread; and parse + evaluation per
//! metadata format (hf-card, native, cyclonedx, spdx3, mof) on the repository's fixtures
//! and the shared reference documents.
//!
//! cargo bench -p modelgate-tests --bench evaluate
//! cargo bench -p modelgate-tests --bench evaluate -- per-format

use criterion::{Criterion, criterion_group, criterion_main};
use modelgate_engine::{ParseOptions, UseContext};
use modelgate_tests::{
    T0, fixture_cards, format_fixtures_dir, model_ref_for, pack, shared_format_files,
};
use std::hint::black_box;
use std::time::Duration;

/// Parse + evaluate of one document per format: every model it describes is decided.
fn bench_formats(c: &mut Criterion) {
    let pack = pack();
    let ctx = UseContext::default();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let read =
        |p: &std::path::Path| std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    let card = read(&root.join("examples/acme-chat-8b.md"));
    // The native form of the same model: the parsed card serialized as a record.
    let native =
        serde_json::to_vec(&pack.parse(&card, None, &ParseOptions::default()).unwrap()).unwrap();
    let fx = format_fixtures_dir();
    let mut docs: Vec<(String, Vec<u8>)> = vec![
        ("hf-card/acme-chat-8b".into(), card),
        ("native/acme-chat-8b".into(), native),
        (
            "cyclonedx/fixture-1.6-llama-finetune".into(),
            read(&fx.join("cyclonedx-1.6-llama-finetune.json")),
        ),
        (
            "cyclonedx/fixture-1.7-multi-model(3)".into(),
            read(&fx.join("cyclonedx-1.7-multi-model.json")),
        ),
        (
            "spdx3/fixture-ai-support-adapter".into(),
            read(&fx.join("spdx3-ai-support-adapter.json")),
        ),
        (
            "mof/fixture-acme-open".into(),
            read(&fx.join("mof-acme-open.yml")),
        ),
    ];
    if let Some(files) = shared_format_files() {
        for (label, name) in [
            (
                "cyclonedx/shared-1.6-full-modelcard",
                "cyclonedx-spec-valid-machine-learning-1.6.json",
            ),
            (
                "spdx3/shared-simplehtr(2)",
                "spdx3-spdx-examples-ai-example01-simplehtr.json",
            ),
            ("mof/shared-Llama-3.1-8B", "mof-Llama-3.1-8B.yml"),
        ] {
            if let Some(p) = files.iter().find(|p| p.ends_with(name)) {
                docs.push((label.into(), read(p)));
            }
        }
    }
    if let Some(cards) = fixture_cards()
        && let Some(p) = cards
            .iter()
            .find(|p| p.to_string_lossy().contains("Llama-3.2-1B"))
    {
        docs.push(("hf-card/shared-Llama-3.2-1B-Instruct".into(), read(p)));
    }
    let opts = ParseOptions::default();
    let mut g = c.benchmark_group("per-format");
    g.sample_size(30)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    for (name, bytes) in &docs {
        // Fail here, not inside the timing loop.
        assert!(!pack.parse_all(bytes, None, &opts).unwrap().is_empty());
        g.bench_function(format!("parse+evaluate/{name}"), |b| {
            b.iter(|| {
                for r in pack.parse_all(black_box(bytes), None, &opts).unwrap() {
                    black_box(modelgate_engine::evaluate(
                        &modelgate_engine::Evaluation::new(
                            &pack,
                            &r,
                            &ctx,
                            modelgate_engine::time::from_unix(T0),
                            "bench",
                        ),
                    ));
                }
            })
        });
        g.bench_function(format!("parse/{name}"), |b| {
            b.iter(|| black_box(pack.parse_all(black_box(bytes), None, &opts).unwrap()))
        });
    }
    g.finish();
}

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
                    black_box(modelgate_engine::evaluate(
                        &modelgate_engine::Evaluation::new(
                            &pack,
                            black_box(r),
                            &ctx,
                            modelgate_engine::time::from_unix(T0),
                            "bench",
                        ),
                    ));
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
                    black_box(modelgate_engine::evaluate(
                        &modelgate_engine::Evaluation::new(
                            &pack,
                            &r,
                            &ctx,
                            modelgate_engine::time::from_unix(T0),
                            "bench",
                        ),
                    ));
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
            b.iter(|| {
                black_box(modelgate_engine::evaluate(
                    &modelgate_engine::Evaluation::new(
                        &pack,
                        black_box(rec),
                        &ctx,
                        modelgate_engine::time::from_unix(T0),
                        "bench",
                    ),
                ))
            })
        });
        g.bench_function(format!("parse+evaluate/{name}"), |b| {
            b.iter(|| {
                let r = pack.parse(black_box(bytes), None, opts).unwrap();
                black_box(modelgate_engine::evaluate(
                    &modelgate_engine::Evaluation::new(
                        &pack,
                        &r,
                        &ctx,
                        modelgate_engine::time::from_unix(T0),
                        "bench",
                    ),
                ))
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench, bench_formats);
criterion_main!(benches);
