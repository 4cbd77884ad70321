//! GPU time per kernel, from timestamp queries (adapters with `timestamp-query`): while
//! profiling is on ([`Gpu::start_profile`]), every dispatch's compute pass writes a timestamp
//! at its start and end; each [`super::Recorder`] resolves its queries into a readable buffer
//! when it submits, and [`Gpu::take_profile`] reads them all back and sums them per kernel.
//! `anytune bench --forward --profile` / `--train --profile` print the table.

use super::context::Gpu;
use crate::error::{Error, Result};
use std::sync::Mutex;

/// Queries per query set (wgpu's maximum): one set holds 2048 dispatches.
const QUERIES_PER_SET: u32 = 4096;

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
struct Pending {
    readable: wgpu::Buffer,
    kernels: Vec<&'static str>,
}

/// Profiling state of a [`Gpu`]: `None` when off.
#[derive(Default)]
pub(crate) struct ProfileState(Mutex<Option<Vec<Pending>>>);

impl ProfileState {
    fn with<T>(&self, f: impl FnOnce(&mut Option<Vec<Pending>>) -> T) -> T {
        let mut guard = self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        f(&mut guard)
    }
}

/// The query sets of one recorder.
pub(crate) struct RecorderQueries {
    sets: Vec<wgpu::QuerySet>,
    kernels: Vec<&'static str>,
}

impl RecorderQueries {
    /// Query sets for a new recorder, when profiling is on.
    pub(crate) fn new(gpu: &Gpu) -> Option<RecorderQueries> {
        gpu.profile.with(|state| state.is_some()).then(|| RecorderQueries { sets: Vec::new(), kernels: Vec::new() })
    }

    /// The timestamp writes of the next dispatch, a pass of `kernel`.
    pub(crate) fn next(&mut self, gpu: &Gpu, kernel: &'static str) -> wgpu::ComputePassTimestampWrites<'_> {
        let index = self.kernels.len() as u32 * 2;
        if index % QUERIES_PER_SET == 0 {
            self.sets.push(gpu.device.create_query_set(&wgpu::QuerySetDescriptor {
                label: Some("anytune profile"),
                ty: wgpu::QueryType::Timestamp,
                count: QUERIES_PER_SET,
            }));
        }
        self.kernels.push(kernel);
        let at = index % QUERIES_PER_SET;
        wgpu::ComputePassTimestampWrites {
            query_set: &self.sets[self.sets.len() - 1],
            beginning_of_pass_write_index: Some(at),
            end_of_pass_write_index: Some(at + 1),
        }
    }

    /// Resolves every query into one readable buffer inside `encoder` (before it is finished).
    pub(crate) fn resolve(self, gpu: &Gpu, encoder: &mut wgpu::CommandEncoder) -> Option<PendingRead> {
        if self.kernels.is_empty() {
            return None;
        }
        let total = self.kernels.len() as u64 * 2;
        let bytes = total * 8;
        let resolved = gpu.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("anytune profile resolved"),
            size: bytes,
            usage: wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC,
            mapped_at_creation: false,
        });
        let readable = gpu.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("anytune profile readable"),
            size: bytes,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        for (s, set) in self.sets.iter().enumerate() {
            let first = s as u64 * QUERIES_PER_SET as u64;
            let count = (total - first).min(QUERIES_PER_SET as u64) as u32;
            encoder.resolve_query_set(set, 0..count, &resolved, first * 8);
        }
        encoder.copy_buffer_to_buffer(&resolved, 0, &readable, 0, bytes);
        Some(PendingRead(Pending { readable, kernels: self.kernels }))
    }
}

/// Resolved queries of a recorder, handed to the [`Gpu`] once submitted.
pub(crate) struct PendingRead(Pending);

impl PendingRead {
    pub(crate) fn submitted(self, gpu: &Gpu) {
        gpu.profile.with(|state| {
            if let Some(pending) = state {
                pending.push(self.0);
            }
        });
    }
}

impl Gpu {
    /// Turns profiling on (dropping anything recorded before): every dispatch recorded from
    /// now on is timed. Errors when the adapter has no timestamp queries.
    pub fn start_profile(&self) -> Result<()> {
        if !self.features.timestamp_query {
            return Err(Error::Gpu(format!("adapter {} has no timestamp queries: cannot profile", self.report.name)));
        }
        self.profile.with(|state| *state = Some(Vec::new()));
        Ok(())
    }

    /// Turns profiling off and returns GPU time per kernel of everything submitted since
    /// [`Gpu::start_profile`], most time first.
    pub async fn take_profile(&self) -> Result<Vec<KernelTime>> {
        let pending = self.profile.with(|state| state.take()).unwrap_or_default();
        let period = self.queue.get_timestamp_period() as f64 * 1e-9;
        let mut times: Vec<KernelTime> = Vec::new();
        for p in pending {
            let stamps: Vec<u64> = bytemuck::pod_collect_to_vec(&super::readback::map_read(self, &p.readable).await?);
            for (i, kernel) in p.kernels.iter().enumerate() {
                let seconds = stamps[2 * i + 1].saturating_sub(stamps[2 * i]) as f64 * period;
                match times.iter_mut().find(|t| t.kernel == *kernel) {
                    Some(t) => {
                        t.dispatches += 1;
                        t.seconds += seconds;
                    }
                    None => times.push(KernelTime { kernel, dispatches: 1, seconds }),
                }
            }
        }
        times.sort_by(|a, b| b.seconds.total_cmp(&a.seconds));
        Ok(times)
    }
}

#[cfg(test)]
mod tests {
    use crate::gpu::{Gpu, GpuOptions, GpuTensor, Recorder};
    use crate::ops::add::add_forward;
    use crate::testing::test_gpu;

    /// Every dispatch is counted under its kernel, with a positive time; profiling stops after
    /// `take_profile`. A device of its own: profiling the shared test device would time the
    /// other tests' dispatches too.
    #[test]
    fn profile_counts_every_dispatch_per_kernel() {
        if test_gpu().is_none() {
            return;
        }
        let gpu = &pollster::block_on(Gpu::new(&GpuOptions::default())).unwrap();
        if !gpu.features.timestamp_query {
            eprintln!("skipped: the adapter has no timestamp queries");
            assert!(gpu.start_profile().is_err());
            return;
        }
        let x = GpuTensor::zeros(gpu, &[1 << 16]);
        let y = GpuTensor::from_slice(gpu, &[1 << 16], &vec![1.0; 1 << 16]);
        gpu.start_profile().unwrap();
        // 2100 dispatches: more than one query set.
        let mut rec = Recorder::new(gpu);
        for _ in 0..2100 {
            add_forward(&mut rec, &x, &y);
        }
        rec.submit();
        let profile = pollster::block_on(gpu.take_profile()).unwrap();
        assert_eq!(profile.len(), 1);
        assert_eq!(profile[0].kernel, "add_forward");
        assert_eq!(profile[0].dispatches, 2100);
        assert!(profile[0].seconds > 0.0, "{profile:?}");
        // Off again: nothing more is recorded.
        let mut rec = Recorder::new(gpu);
        add_forward(&mut rec, &x, &y);
        rec.submit();
        assert!(pollster::block_on(gpu.take_profile()).unwrap().is_empty());
        assert_eq!(pollster::block_on(x.read(Recorder::new(gpu))).unwrap()[0], 2101.0);
    }
}
