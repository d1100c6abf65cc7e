//! Where `audit verify` spends its time per entry: parsing the stored decision, RFC 8785
//! canonicalisation, hashing. `cargo run --release -p modelgate-tests --example leafcost`
use std::time::Instant;

fn main() {
    let files = modelgate::packdir::builtin_files();
    let pack = modelgate_engine::Pack::load(&files).expect("pack");
    let card = include_str!("../../examples/acme-chat-8b.md");
    let rec = pack
        .parse_all(card.as_bytes(), None, &Default::default())
        .unwrap()
        .remove(0);
    let d = pack.evaluate(&rec, &Default::default(), 1_700_000_000, "sha256:x");
    let json = serde_json::to_string(&d).unwrap();
    let row = modelgate::store::DecisionRow {
        id: "0190f000-0000-7000-8000-000000000000".into(),
        tenant: "default".into(),
        model_ref: "m".into(),
        model_version: None,
        profile: None,
        verdict: "conditional".into(),
        format: "hf-card".into(),
        document: card.as_bytes().to_vec(),
        record: serde_json::to_string(&rec).unwrap(),
        context: "{}".into(),
        decision: json.clone(),
        pack_digest: "sha256:p".into(),
        engine_version: "0".into(),
        input_digest: "sha256:i".into(),
        created_at: 1,
        requested_by: None,
        idempotency_key: None,
        request_digest: None,
        trace_id: None,
        leaf_hash: None,
    };
    let n = 2000;
    let t = Instant::now();
    for _ in 0..n {
        std::hint::black_box(modelgate::audit::decision_leaf(&row).unwrap());
    }
    println!(
        "decision JSON {} bytes; leaf: {:.1} µs",
        json.len(),
        t.elapsed().as_secs_f64() * 1e6 / n as f64
    );
    let t = Instant::now();
    for _ in 0..n {
        std::hint::black_box(serde_json::from_str::<serde_json::Value>(&json).unwrap());
    }
    println!(
        "parse: {:.1} µs",
        t.elapsed().as_secs_f64() * 1e6 / n as f64
    );
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let t = Instant::now();
    for _ in 0..n {
        std::hint::black_box(serde_jcs::to_vec(&v).unwrap());
    }
    println!(
        "serde_jcs: {:.1} µs",
        t.elapsed().as_secs_f64() * 1e6 / n as f64
    );
    let t = Instant::now();
    for _ in 0..n {
        std::hint::black_box(modelgate_audit::entry::leaf_bytes("decision", &v).unwrap());
    }
    println!(
        "leaf_bytes: {:.1} µs",
        t.elapsed().as_secs_f64() * 1e6 / n as f64
    );
}
