//! godeadlock: read Go goroutine dumps and name the goroutine that holds the lock
//! everyone else waits for.
//!
//! Data flows one way: bytes → [`input`] (decoding) → [`parse`] (one module per
//! format) → [`model`] → [`group`] (signatures) → [`analyze`] (findings, verdict)
//! → [`report`] (table, JSON, DOT, Markdown).

pub mod analyze;
pub mod error;
pub mod filter;
pub mod group;
pub mod input;
pub mod model;
pub mod parse;
pub mod report;
