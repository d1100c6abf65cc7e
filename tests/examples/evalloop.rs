//! Evaluates every shared fixture card N times (default 20): a fixed workload for
//! instruction counts, which unlike wall-clock time repeat exactly on a noisy VM:
//!
//! cargo build --release -p modelgate-tests --example evalloop
//! valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.out target/release/examples/evalloop 20 [parse]

use modelgate_engine::{ParseOptions, UseContext};
use modelgate_tests::{T0, fixture_cards, model_ref_for, pack};
use std::hint::black_box;

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    let parse_too = std::env::args().nth(2).is_some_and(|s| s == "parse");
    let Some(cards) = fixture_cards() else { return };
    let pack = pack();
    let ctx = UseContext::default();
    let docs: Vec<(Vec<u8>, ParseOptions)> = cards
        .iter()
        .map(|p| {
            (
                std::fs::read(p).unwrap_or_default(),
                ParseOptions {
                    model_ref: Some(model_ref_for(p)),
                    ..ParseOptions::default()
                },
            )
        })
        .collect();
    let records: Vec<_> = docs
        .iter()
        .filter_map(|(b, o)| pack.parse(b, None, o).ok())
        .collect();
    let mut verdicts = 0usize;
    for _ in 0..n {
        if parse_too {
            for (b, o) in &docs {
                if let Ok(r) = pack.parse(black_box(b), None, o) {
                    verdicts += modelgate_tests::evaluate(&pack, &r, &[], &ctx, T0, "x")
                        .findings
                        .len();
                }
            }
        } else {
            for r in &records {
                verdicts += black_box(modelgate_engine::evaluate(
                    &modelgate_engine::Evaluation::new(
                        &pack,
                        black_box(r),
                        &ctx,
                        modelgate_engine::time::from_unix(T0),
                        "x",
                    ),
                ))
                .findings
                .len();
            }
        }
    }
    println!("{} evaluations, {verdicts} findings", n * records.len());
}
