//! Shared test fixtures: a decision entry like the service writes, and a small signed log.
#![allow(dead_code)]

use modelgate_audit::Hash;
use modelgate_audit::checkpoint::{CheckpointSigner, generate_key};
use modelgate_audit::entry::{leaf_bytes, leaf_hash};
use modelgate_audit::evidence::EvidenceBundle;
use modelgate_audit::tree::{append, inclusion_proof};
use rand_core::OsRng;
use serde_json::{Value, json};
use std::collections::HashMap;

pub const ORIGIN: &str = "modelgate.example/audit";

/// SHA-256 of `bytes` as `sha256:<hex>`.
pub fn digest(bytes: &[u8]) -> String {
    use sha2::{Digest as _, Sha256};
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// A decision entry in the shape the service logs, for the decision [`decision_text`] gives.
pub fn decision(i: u64, model_name: &str) -> Value {
    let mut e = entry_fields(i, model_name);
    e["verdict"] = "conditional".into();
    e["decision_digest"] = digest(decision_text(model_name).as_bytes()).into();
    e
}

/// The recorded decision (JSON text) of [`decision`]'s entry.
pub fn decision_text(model_name: &str) -> String {
    let full = entry_fields(0, model_name);
    serde_json::to_string(&full["decision"]).unwrap()
}

fn entry_fields(i: u64, model_name: &str) -> Value {
    json!({
        "id": format!("0193a1f2-0000-7000-8000-{i:012}"),
        "tenant": "default",
        "model_ref": format!("hf:org/{model_name}"),
        "model_version": 3,
        "profile": "internal-rd",
        "requested_by": "key-7",
        "created_at": "2026-11-27T04:05:06.123456Z",
        "format": "hf-card",
        "document_digest": "sha256:aaaa",
        "record_digest": "sha256:bbbb",
        "input_digest": "sha256:cccc",
        "pack_digest": "sha256:dddd",
        "engine_version": "0.1.0",
        "trace_id": null,
        "decision": {
            "model": {"id": format!("org/{model_name}"), "revision": "abc123", "name": model_name, "source_format": "hf-card"},
            "verdict": "conditional",
            "summary": {"pass": 10, "fail": 1, "warn": 1, "error": 0, "skip": 2},
            "findings": [
                {"rule_id": "lic.attribution", "title": "Attribution required", "category": "license",
                 "effect": "conditional", "result": "fail", "severity": "medium",
                 "message": "The licence requires attribution in distributed products.",
                 "how_to_fix": "Add the notice to the product's third-party notices.",
                 "evidence": [{"path": "license", "value": "llama3", "source": "card"}],
                 "citation": {"license": "LicenseRef-llama3", "source": "Llama 3 Community License", "section": "1.b.i", "url": "https://example.invalid/llama3#1bi"},
                 "waived": false},
                {"rule_id": "lic.known", "title": "Licence is known", "category": "license",
                 "effect": "deny", "result": "pass", "severity": "high",
                 "message": "PASSING-FINDING-MESSAGE", "how_to_fix": "",
                 "evidence": [], "citation": null, "waived": false}
            ],
            "obligations": [
                {"rule_id": "lic.attribution", "title": "Display “Built with Llama”", "category": "attribution",
                 "text": "Prominently display “Built with Llama”.", "licenses": ["LicenseRef-llama3"],
                 "citation": {"source": "Llama 3 Community License", "section": "1.b.i"}}
            ],
            "license": {
                "declared": [{"raw": "llama3", "id": "LicenseRef-llama3", "spdx": null, "resolution": "catalog"}],
                "chosen": "LicenseRef-llama3",
                "alternatives": [],
                "conflicting": false,
                "inherited": [{"model": "meta-llama/Meta-Llama-3-8B", "license": "LicenseRef-llama3", "relation": "finetune", "source": "card"}],
                "effective": [{"id": "LicenseRef-llama3", "name": "Llama 3 Community License", "origin": "declared", "via": null}]
            },
            "lineage": {"base_models": ["meta-llama/Meta-Llama-3-8B"], "depth": 1},
            "openness": {"weights": "open", "training_data": "closed"},
            "context": {"purpose": "customer support chatbot", "deployment": "saas", "monthly_active_users": 50000, "regions": ["EU", "US"]},
            "pack": {"name": "default", "version": "1.4.0", "digest": "sha256:dddd"},
            "engine_version": "0.1.0",
            "input_digest": "sha256:cccc",
            "evaluated_at": "2026-11-27T04:05:06.123456Z"
        }
    })
}

/// A log of `n` decisions (entry `target` uses `model_name`), signed by a fresh key.
pub struct Log {
    pub skey: String,
    pub vkey: String,
    pub leaves: Vec<Vec<u8>>,
    /// The recorded decision of each leaf.
    pub decisions: Vec<String>,
    pub stored: HashMap<u64, Hash>,
    pub size: u64,
    pub root: Hash,
    pub checkpoint: String,
}

pub fn log(n: u64, target: u64, model_name: &str) -> Log {
    let (skey, vkey) = generate_key(&mut OsRng, ORIGIN);
    let leaves: Vec<Vec<u8>> = (0..n)
        .map(|i| {
            let name = if i == target {
                model_name.to_owned()
            } else {
                format!("model-{i}")
            };
            leaf_bytes("decision", &decision(i, &name)).unwrap()
        })
        .collect();
    let decisions = (0..n)
        .map(|i| {
            decision_text(&if i == target {
                model_name.to_owned()
            } else {
                format!("model-{i}")
            })
        })
        .collect();
    let hashes: Vec<Hash> = leaves.iter().map(|l| leaf_hash(l)).collect();
    let a = append(0, &hashes, &HashMap::new()).unwrap();
    let signer = CheckpointSigner::new(&skey).unwrap();
    let checkpoint = signer.sign(a.size, a.root).unwrap();
    Log {
        skey,
        vkey,
        leaves,
        decisions,
        stored: a.new_hashes.into_iter().collect(),
        size: a.size,
        root: a.root,
        checkpoint,
    }
}

impl Log {
    pub fn bundle(&self, index: u64) -> EvidenceBundle {
        let proof = inclusion_proof(index, self.size, &self.stored).unwrap();
        EvidenceBundle::build(
            &self.leaves[index as usize],
            &self.decisions[index as usize],
            index,
            &proof,
            &self.checkpoint,
            &self.vkey,
        )
        .unwrap()
    }
}
