//! GPU time per kernel, from timestamp queries (adapters with `timestamp-query`): while
//! profiling is on ([`super::Gpu::start_profile`]), every dispatch's compute pass writes a timestamp
//! at its start and end; each [`super::Recorder`] resolves its queries into a readable buffer
//! when it submits, and [`super::Gpu::take_profile`] reads them all back and sums them per kernel.
//! `anytune bench --forward --profile` / `--train --profile` print the table.

//!
//! Layers: this file holds the state (no GPU calls); `timestamps.rs` the per-recorder queries;
//! `profile_read.rs` the [`super::Gpu`] methods that start profiling and read it back.

use std::sync::Mutex;

/// One kernel's share of the profiled work.
#[derive(Clone, Debug, PartialEq)]
pub struct KernelTime {
    /// The kernel's WGSL entry point.
    pub kernel: &'static str,
    pub dispatches: usize,
    /// Sum over its dispatches of (end − start) of the compute pass.
    pub seconds: f64,
}

/// Submitted, not yet read: the timestamps of a recorder's dispatches, in order.
pub(crate) struct Pending {
    pub(crate) readable: wgpu::Buffer,
    pub(crate) kernels: Vec<&'static str>,
}

/// Profiling state of a [`super::Gpu`]: `None` when off.
#[derive(Default)]
pub(crate) struct ProfileState(Mutex<Option<Vec<Pending>>>);

impl ProfileState {
    pub(crate) fn with<T>(&self, f: impl FnOnce(&mut Option<Vec<Pending>>) -> T) -> T {
        let mut guard = self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        f(&mut guard)
    }
}
