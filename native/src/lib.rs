//! The native shell around anytune-core: model paths and the named models' cache. The
//! `anytune` binary (`main.rs`) and the integration tests use it.

pub mod load;
pub mod named_models;
