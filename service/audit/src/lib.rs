//! Pure audit-log logic of modelgate.
//!
//! Every decision (and review, waiver and pack event) the service makes is appended to a
//! tamper-evident log modelled on Certificate Transparency (RFC 6962), Trillian and Tessera:
//!
//! * [`entry`]: the bytes of a log entry, `"<kind>/v1\n"` followed by the RFC 8785 (JCS)
//!   canonical JSON of the entry, and its RFC 6962 leaf hash.
//! * [`tree`]: the RFC 6962 Merkle tree over hashes kept in a database, using the stored-hash
//!   layout of Go's `golang.org/x/mod/sumdb/tlog` (ported as [`tlog_tiles`]). Every operation is
//!   split into "which stored hashes do you need" and "compute with these", so the caller can do
//!   its database IO outside of this crate.
//! * [`checkpoint`]: C2SP `tlog-checkpoint`s signed as C2SP signed notes with Ed25519.
//! * [`evidence`]: a self-contained evidence bundle for one decision that an auditor can verify
//!   offline, and a printable HTML rendering of it.
//!
//! The crate is pure: no file or network IO, no clock, no global state, no async. Randomness is
//! only taken from a caller-supplied [`rand_core::CryptoRngCore`]. No function panics on any
//! input; failures are reported as [`AuditError`], whose messages say what was wrong and where.

pub mod canonical;
pub mod checkpoint;
pub mod entry;
mod error;
pub mod evidence;
pub mod tree;

pub use error::AuditError;
/// A SHA-256 hash of a log record or tree node (RFC 6962). `Display`/`Debug` print base64; use
/// [`entry::hex_hash`] for the lowercase hex used in this crate's JSON.
pub use tlog_tiles::tlog::Hash;
