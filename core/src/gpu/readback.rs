//! Async readbacks. WebGPU has no blocking reads: a read maps a staging buffer and awaits the
//! map callback. Natively we poll the device until the callback has run, so the future
//! completes under `pollster::block_on`; in the browser the event loop delivers it.

use super::context::Gpu;
use super::recorder::Recorder;
use crate::error::{Error, Result};

/// Copies `len` f32 values starting at element `offset` of `buffer` into a staging buffer
/// inside `rec`, submits `rec`, and returns them.
pub async fn read_f32(rec: Recorder<'_>, buffer: &wgpu::Buffer, offset: usize, len: usize) -> Result<Vec<f32>> {
    let bytes = read_bytes(rec, buffer, (offset * 4) as u64, (len * 4) as u64).await?;
    Ok(bytemuck::pod_collect_to_vec(&bytes))
}

/// Copies `size` bytes from `offset` of `buffer`, submits `rec`, and awaits the mapped bytes.
pub async fn read_bytes(mut rec: Recorder<'_>, buffer: &wgpu::Buffer, offset: u64, size: u64) -> Result<Vec<u8>> {
    let gpu: &Gpu = rec.gpu;
    if size == 0 {
        rec.submit();
        return Ok(Vec::new());
    }
    let padded = size.div_ceil(4) * 4;
    let staging = gpu.device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("readback"),
        size: padded,
        usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    rec.encoder().copy_buffer_to_buffer(buffer, offset, &staging, 0, padded);
    rec.submit();
    let (sender, receiver) = futures_channel::oneshot::channel();
    staging.map_async(wgpu::MapMode::Read, .., move |result| {
        let _ = sender.send(result);
    });
    #[cfg(not(target_arch = "wasm32"))]
    gpu.device.poll(wgpu::PollType::wait_indefinitely()).map_err(|e| Error::Gpu(e.to_string()))?;
    receiver
        .await
        .map_err(|_| Error::Gpu("readback was cancelled (device lost?)".into()))?
        .map_err(|e| Error::Gpu(format!("readback failed: {e}")))?;
    let view = staging.get_mapped_range(..).map_err(|e| Error::Gpu(e.to_string()))?;
    let out = view[..size as usize].to_vec();
    drop(view);
    staging.unmap();
    Ok(out)
}
