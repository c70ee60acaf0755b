//! Renderers: pure functions of (dump, analysis) writing to `&mut dyn Write`.
//! They never compute findings.

pub mod dot;
pub mod goroutine;
pub mod json;
pub mod markdown;
pub mod text;
pub mod timeline;
pub mod words;
