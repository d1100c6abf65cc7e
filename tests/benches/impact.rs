//! Impact analysis of a candidate rule pack over a large registry, through the real
//! server: MODELS registered models (default 10,000; a mix of the fixture licences), no
//! profile (the default use context), candidate = the built-in pack with the
//! non-commercial rule asking for review. Prints the server's own elapsed time and the
//! request's wall time.
//!
//!   cargo bench -p modelgate-tests --bench impact
//!   MODELS=20000 cargo bench -p modelgate-tests --bench impact

use modelgate::store::NewModelVersion;
use modelgate_tests::api::TestServer;
use modelgate_tests::db::TestDb;
use std::time::Instant;

const LICENSES: [&str; 5] = ["apache-2.0", "cc-by-nc-4.0", "llama3.1", "mit", "other"];

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let n: usize = std::env::var("MODELS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let s = TestServer::start(TestDb::sqlite().await).await;
        let pack = modelgate_tests::pack();
        let t = Instant::now();
        for i in 0..n {
            let lic = LICENSES[i % LICENSES.len()];
            let model = format!("org/model-{i}");
            let card = format!("---\nlicense: {lic}\n---\n# {model}\n");
            let rec = pack
                .parse_all(
                    card.as_bytes(),
                    None,
                    &modelgate_engine::ParseOptions::with_model_ref(&model),
                )
                .expect("card")
                .remove(0);
            let record = serde_json::to_string(&rec).expect("record");
            s.db.store
                .put_model_version(
                    "default",
                    &NewModelVersion {
                        model_ref: &model,
                        format: "hf-card",
                        document: card.as_bytes(),
                        record_json: &record,
                        document_digest: &format!("sha256:{i:064x}"),
                        license: modelgate::app::models::declared_license(&rec),
                    },
                    1,
                )
                .await
                .expect("register");
        }
        let fill = t.elapsed().as_secs_f64();
        let r = s
            .send(
                s.client
                    .post(format!("{}/v1/packs", s.base))
                    .header("content-type", "application/gzip")
                    .body(modelgate_tests::packs::candidate()),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
        let digest = r.json()["digest"].as_str().expect("digest").to_string();
        let t = Instant::now();
        let r = s
            .post_json(
                &format!("/v1/packs/{digest}/impact"),
                &serde_json::json!({}),
            )
            .await;
        let wall = t.elapsed().as_secs_f64();
        assert_eq!(r.status, 200, "{}", r.text);
        let v = r.json();
        println!(
            "impact: {n} models ({} pairs, {} changed) in {:.2} s wall, {} ms in the server \
             (registry filled in {fill:.1} s)",
            v["evaluated"], v["changed"], wall, v["elapsed_ms"]
        );
        s.stop().await;
    });
}
