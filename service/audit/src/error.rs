//! The one error type of the crate.

use thiserror::Error;

/// Everything that can go wrong in this crate. Each message says what was wrong and where.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuditError {
    // ----- entries -----
    /// An entry kind is not of the form `[a-z][a-z0-9_]*`.
    #[error("entry kind {kind:?} is invalid: it must match [a-z][a-z0-9_]*")]
    InvalidKind {
        /// The rejected kind.
        kind: String,
    },
    /// An entry contains an integer that RFC 8785 cannot represent exactly.
    #[error(
        "entry number at {path} is an integer beyond ±2^53, which RFC 8785 canonical JSON cannot represent exactly"
    )]
    UnsafeInteger {
        /// JSON pointer to the number.
        path: String,
    },
    /// `serde_jcs` refused to canonicalise an entry.
    #[error("entry cannot be written as RFC 8785 canonical JSON: {0}")]
    Canonicalize(String),
    /// A leaf does not start with a `"<kind>/v1\n"` header line.
    #[error("leaf does not start with a \"<kind>/v1\\n\" header line ({detail})")]
    LeafHeader {
        /// What exactly is wrong with the header.
        detail: String,
    },
    /// The JSON part of a leaf does not parse.
    #[error("leaf JSON (after the header line) is not valid JSON: {0}")]
    LeafJson(String),
    /// The JSON part of a leaf parses but is not byte-for-byte RFC 8785 canonical.
    #[error("leaf JSON (after the header line) is valid but not in RFC 8785 canonical form")]
    LeafNotCanonical,
    /// A hash in hex is not 64 lowercase hex characters.
    #[error("hash {value:?} is not 64 lowercase hexadecimal characters")]
    InvalidHexHash {
        /// The rejected text (truncated to 80 characters).
        value: String,
    },

    // ----- tree -----
    /// A stored hash needed by a tree operation is not in the supplied map.
    #[error("stored hash with index {index} is needed but missing from the supplied map")]
    MissingHash {
        /// Stored-hash index of the missing hash.
        index: u64,
    },
    /// A tree size beyond [`crate::tree::MAX_TREE_SIZE`].
    #[error("tree size {size} exceeds the supported maximum of 2^62 records")]
    TreeTooLarge {
        /// The rejected size.
        size: u128,
    },
    /// A leaf index at or beyond the tree size.
    #[error("leaf index {index} is not below tree size {size}")]
    IndexOutOfRange {
        /// Leaf index.
        index: u64,
        /// Tree size.
        size: u64,
    },
    /// A consistency proof asked from a larger to a smaller tree.
    #[error("first tree size {first} is larger than second tree size {second}")]
    SizesOutOfOrder {
        /// Older tree size.
        first: u64,
        /// Newer tree size.
        second: u64,
    },
    /// A proof with more hashes than any tree of the supported size can need.
    #[error("proof has {len} hashes, more than any supported tree needs")]
    ProofTooLong {
        /// Number of hashes in the proof.
        len: usize,
    },
    /// An inclusion proof that does not recompute the given root.
    #[error(
        "inclusion proof does not lead to the given root (leaf index {index}, tree size {size})"
    )]
    InclusionMismatch {
        /// Leaf index.
        index: u64,
        /// Tree size.
        size: u64,
    },
    /// A consistency proof that does not recompute both roots.
    #[error(
        "consistency proof does not link the root of tree size {first} to the root of tree size {second}"
    )]
    ConsistencyMismatch {
        /// Older tree size.
        first: u64,
        /// Newer tree size.
        second: u64,
    },
    /// An error of the underlying `tlog_tiles` computation that the checks above do not cover.
    #[error("Merkle tree computation failed: {0}")]
    Tlog(String),

    // ----- keys and checkpoints -----
    /// A signer key string is malformed.
    #[error("signer key is malformed: {0} (expected \"PRIVATE+KEY+<name>+<id>+<base64>\")")]
    SignerKey(String),
    /// A verifier key string is malformed.
    #[error("verifier key is malformed: {0} (expected \"<name>+<8 hex id>+<base64>\")")]
    VerifierKey(String),
    /// Signing failed.
    #[error("signing the checkpoint failed: {0}")]
    Signing(String),
    /// The text is not a well-formed signed note.
    #[error(
        "checkpoint is not a well-formed signed note (text, blank line, \"— name signature\" lines)"
    )]
    NoteMalformed,
    /// No signature by the expected key.
    #[error("checkpoint carries no signature by key {key}")]
    NotSignedByKey {
        /// `name+id` of the expected key.
        key: String,
    },
    /// A signature by the expected key that does not verify.
    #[error(
        "checkpoint signature by key {key} does not verify: the note was altered or signed by another key"
    )]
    BadSignature {
        /// `name+id` of the key.
        key: String,
    },
    /// The note text is not a C2SP checkpoint.
    #[error(
        "signed note text is not a C2SP tlog-checkpoint (origin line, decimal size line, base64 root line)"
    )]
    CheckpointMalformed,
    /// The checkpoint origin differs from the key name.
    #[error("checkpoint origin {origin:?} does not equal the signing key name {key_name:?}")]
    OriginMismatch {
        /// Origin line of the checkpoint.
        origin: String,
        /// Name of the verifier key.
        key_name: String,
    },

    // ----- evidence bundles -----
    /// The bundle is not JSON of the expected shape.
    #[error("evidence bundle is not JSON of the expected shape: {0}")]
    BundleJson(String),
    /// Unknown bundle format string.
    #[error("evidence bundle format is {found:?}, expected \"modelgate-evidence/v1\"")]
    BundleFormat {
        /// The format string found.
        found: String,
    },
    /// A field of the bundle failed a check; `source` says which.
    #[error("evidence bundle field {field}: {source}")]
    BundleField {
        /// Dotted path of the field, e.g. `entry.inclusion_proof[2]`.
        field: String,
        /// What was wrong with it.
        source: Box<AuditError>,
    },
    /// Two values of the bundle that must agree do not.
    #[error("evidence bundle is inconsistent: {what}")]
    BundleMismatch {
        /// Which values disagree, with both values.
        what: String,
    },
    /// The bundle's inclusion proof does not lead to the checkpoint root.
    #[error(
        "evidence bundle: inclusion proof does not lead to the checkpoint's root (leaf index {index}, tree size {size})"
    )]
    BundleInclusion {
        /// Leaf index.
        index: u64,
        /// Tree size.
        size: u64,
    },
}

impl AuditError {
    /// Wraps `self` as the error of bundle field `field`.
    pub(crate) fn in_field(self, field: impl Into<String>) -> AuditError {
        AuditError::BundleField {
            field: field.into(),
            source: Box::new(self),
        }
    }
}
