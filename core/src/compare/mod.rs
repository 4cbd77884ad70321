//! Human evaluation (`anytune compare`): the base model's and each adapter's answers to the
//! same prompts with the same sampling, paired base vs adapter, on a self-contained page where
//! a person rates each pair blind; the marks come back as JSON and become win rates.
//!
//! prompts file ([`prompts`]) → every system's answers ([`answer`]) → [`report::Report`]
//! (the pairs in a seeded, blinded order) → the page ([`html`], with `rate.js`) →
//! `marks.json` ([`marks`]) → win rates with 95% intervals ([`summary`]).

pub mod answer;
pub mod html;
pub mod marks;
pub mod prompts;
pub mod report;
pub mod summary;

pub use report::Report;
