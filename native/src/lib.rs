//! The native shell around anytune-core: model paths and the default model's cache. The
//! `anytune` binary (`main.rs`) and the integration tests use it.

pub mod default_model;
pub mod load;
