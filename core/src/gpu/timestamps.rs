//! The timestamp queries of one [`super::Recorder`] while profiling is on (see
//! [`super::profile`]): two per dispatch, resolved into a readable buffer at submit.

use super::context::Gpu;
use super::profile::Pending;

/// Queries per query set (wgpu's maximum): one set holds 2048 dispatches.
const QUERIES_PER_SET: u32 = 4096;

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
        if index.is_multiple_of(QUERIES_PER_SET) {
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
