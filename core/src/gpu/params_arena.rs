//! The uniform params of a [`super::Recorder`]'s dispatches, packed into a few shared uniform
//! buffers at the device's uniform offset alignment and written with one `queue.write_buffer`
//! per buffer when the recorder submits — instead of one buffer created (mapped, filled) per
//! dispatch: an allocation each, and in a browser a round trip to the GPU process each.
//!
//! Writes made by `write_buffer` land before any command buffer submitted after them, so the
//! dispatches read their params.

/// Bytes of the first buffer; each next one doubles, up to [`MAX_CHUNK`] (a decode step of a few
/// dispatches stays small; a training step's thousands take a few buffers).
const FIRST_CHUNK: u64 = 16 << 10;
const MAX_CHUNK: u64 = 1 << 20;

/// One buffer and the bytes to write into it.
struct Chunk {
    buffer: wgpu::Buffer,
    bytes: Vec<u8>,
}

/// The params of one recorder's dispatches.
pub(crate) struct ParamsArena {
    chunks: Vec<Chunk>,
    align: usize,
}

impl ParamsArena {
    pub(crate) fn new(gpu: &super::Gpu) -> Self {
        ParamsArena { chunks: Vec::new(), align: (gpu.limits.min_uniform_buffer_offset_alignment as usize).max(16) }
    }

    /// Places `params` (padded to 16 bytes, WGSL's uniform struct granule) and returns its binding.
    pub(crate) fn push(&mut self, device: &wgpu::Device, params: &[u8]) -> wgpu::BindingResource<'_> {
        let len = params.len().next_multiple_of(16).max(16);
        let fits = self.chunks.last().is_some_and(|c| c.bytes.len().next_multiple_of(self.align) + len <= c.buffer.size() as usize);
        if !fits {
            let size = self.chunks.last().map_or(FIRST_CHUNK, |c| (c.buffer.size() * 2).min(MAX_CHUNK)).max(len as u64);
            let buffer = device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("dispatch params"),
                size,
                usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            });
            self.chunks.push(Chunk { buffer, bytes: Vec::with_capacity(size as usize) });
        }
        let last = self.chunks.len() - 1;
        let chunk = &mut self.chunks[last];
        let offset = chunk.bytes.len().next_multiple_of(self.align);
        chunk.bytes.resize(offset, 0);
        chunk.bytes.extend_from_slice(params);
        chunk.bytes.resize(offset + len, 0);
        wgpu::BindingResource::Buffer(wgpu::BufferBinding {
            buffer: &chunk.buffer,
            offset: offset as u64,
            size: std::num::NonZeroU64::new(len as u64),
        })
    }

    /// Writes every buffer's params (before the recorder's command buffer is submitted).
    pub(crate) fn write(&self, queue: &wgpu::Queue) {
        for c in &self.chunks {
            queue.write_buffer(&c.buffer, 0, &c.bytes);
        }
    }
}
