//! Dataset preparation behind `anytune data`: [`inspect`] (what a file holds and what training
//! would make of it), [`clean`] (normalise, drop bad, empty and duplicate rows, report each),
//! [`split`] (train/validation/test, stratified by `label`) and [`convert`] (CSV, alpaca,
//! ShareGPT, prompt/completion and text rows into chat `messages` rows).
//!
//! Every function takes a file's bytes and name (no filesystem: the web page hands bytes) and
//! returns a serialisable report; rows are read by the training pipeline's own parser
//! (`data::parse`), so a row these tools keep is a row `anytune train` reads.
//!
//! ```
//! use anytune_core::data::DataFile;
//! use anytune_core::prep::clean::{CleanOptions, clean};
//! let jsonl = "{\"text\": \"caf\u{65}\u{301}  au lait\"}\n{\"text\": \"  \"}\n{\"text\": \"café au lait\"}\n";
//! let out = clean(DataFile { bytes: jsonl.as_bytes(), name: "d.jsonl" }, &CleanOptions::default())?;
//! assert_eq!((out.report.read, out.report.kept, out.report.changed, out.report.dropped), (3, 0, 1, 2));
//! assert_eq!(String::from_utf8(out.jsonl).unwrap(), "{\"text\":\"café au lait\"}\n");
//! # Ok::<(), anytune_core::Error>(())
//! ```

pub mod clean;
pub mod convert;
pub mod inspect;
pub mod near_dup;
pub mod report_html;
mod rows;
pub mod split;
mod text;
#[cfg(test)]
mod tests;
