//! Where `audit verify` spends its time per entry: hashing the stored document, record,
//! context and decision, and the RFC 8785 canonical JSON of the entry. `cargo run --release -p modelgate-tests --example leafcost`
use std::time::Instant;

fn main() {
    let files = modelgate::packdir::builtin_files();
    let pack = modelgate_engine::Pack::load(&files).expect("pack");
    let card = include_str!("../../examples/acme-chat-8b.md");
    let rec = pack
        .parse_all(card.as_bytes(), None, &Default::default())
        .unwrap()
        .remove(0);
    let d = modelgate_tests::evaluate(
        &pack,
        &rec,
        &[],
        &Default::default(),
        1_700_000_000,
        "sha256:x",
    );
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
        std::hint::black_box(modelgate::audit::decision_leaf(&row.as_new()).unwrap());
    }
    println!(
        "decision JSON {} bytes; leaf: {:.1} µs",
        json.len(),
        t.elapsed().as_secs_f64() * 1e6 / n as f64
    );
    let bytes = row.document.len() + row.record.len() + row.context.len() + json.len();
    let t = Instant::now();
    for _ in 0..n {
        use sha2::Digest as _;
        for part in [
            &row.document[..],
            row.record.as_bytes(),
            row.context.as_bytes(),
            json.as_bytes(),
        ] {
            std::hint::black_box(sha2::Sha256::digest(part));
        }
    }
    println!(
        "SHA-256 of document, record, context and decision ({bytes} bytes): {:.1} µs",
        t.elapsed().as_secs_f64() * 1e6 / n as f64
    );
    let entry = modelgate::audit::decision_entry(&row.as_new());
    let t = Instant::now();
    for _ in 0..n {
        std::hint::black_box(modelgate_audit::entry::leaf_bytes("decision", &entry).unwrap());
    }
    println!(
        "canonical JSON of the entry: {:.1} µs",
        t.elapsed().as_secs_f64() * 1e6 / n as f64
    );
}
