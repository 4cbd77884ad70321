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
/// Returns the device's pending error instead, if it has one (see [`Gpu::take_error`]).
pub async fn read_bytes(mut rec: Recorder<'_>, buffer: &wgpu::Buffer, offset: u64, size: u64) -> Result<Vec<u8>> {
    let gpu: &Gpu = rec.gpu;
    gpu.take_error()?;
    if size == 0 {
        rec.submit();
        return gpu.take_error().map(|()| Vec::new());
    }
    let padded = size.div_ceil(4) * 4;
    gpu.check_buffer(padded, false, || format!("a readback of {size} bytes"))?;
    let staging = gpu.device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("readback"),
        size: padded,
        usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    rec.encoder().copy_buffer_to_buffer(buffer, offset, &staging, 0, padded);
    rec.submit();
    gpu.take_error()?;
    let bytes = map_read(gpu, &staging).await?;
    Ok(bytes[..size as usize].to_vec())
}

/// Maps a submitted `MAP_READ` buffer and returns its bytes (natively, polling `gpu`'s device;
/// in the browser the event loop delivers the map). A GPU error raised meanwhile wins over the
/// failed map it causes.
pub(crate) async fn map_read(gpu: &Gpu, staging: &wgpu::Buffer) -> Result<Vec<u8>> {
    let (sender, receiver) = futures_channel::oneshot::channel();
    staging.map_async(wgpu::MapMode::Read, .., move |result| {
        let _ = sender.send(result);
    });
    #[cfg(not(target_arch = "wasm32"))]
    if let Err(e) = gpu.device.poll(wgpu::PollType::wait_indefinitely()) {
        gpu.take_error()?;
        return Err(Error::Gpu(e.to_string()));
    }
    let mapped = match receiver.await {
        Ok(result) => result.map_err(|e| Error::Gpu(format!("readback failed: {e}"))),
        Err(_) => Err(Error::Gpu("readback was cancelled (device lost?)".into())),
    };
    gpu.take_error()?;
    mapped?;
    let view = staging.get_mapped_range(..).map_err(|e| Error::Gpu(e.to_string()))?;
    let out = view.to_vec();
    drop(view);
    staging.unmap();
    Ok(out)
}

/// Reads several tensors back with one copy each into a staging buffer and one submission and
/// map per storage-binding limit's worth (the largest [`super::GpuTensor`] there is; checkpoints
/// and adapter downloads read every LoRA tensor at once, not one readback per tensor).
pub async fn read_tensors(gpu: &Gpu, tensors: &[&super::GpuTensor]) -> Result<Vec<Vec<f32>>> {
    let limit = (gpu.max_binding() / 4).max(1) as usize;
    let mut out = Vec::with_capacity(tensors.len());
    let mut group_start = 0;
    while group_start < tensors.len() {
        // The longest run of tensors that fits one buffer (at least one tensor).
        let (mut end, mut total) = (group_start, 0);
        while end < tensors.len() && (end == group_start || total + tensors[end].len() <= limit) {
            total += tensors[end].len();
            end += 1;
        }
        let group = &tensors[group_start..end];
        let all = super::GpuTensor::zeros(gpu, &[total.max(1)]);
        let mut rec = Recorder::new(gpu);
        let mut offset = 0;
        for t in group.iter().filter(|t| !t.is_empty()) {
            rec.copy(&t.buffer, 0, &all.buffer, offset as u64 * 4, t.len() as u64 * 4);
            offset += t.len();
        }
        let values = read_f32(rec, &all.buffer, 0, total).await?;
        let mut at = 0;
        for t in group {
            out.push(values[at..at + t.len()].to_vec());
            at += t.len();
        }
        group_start = end;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use crate::gpu::GpuTensor;
    use crate::testing::test_gpu;

    #[test]
    fn read_tensors_returns_each_tensor_in_order() {
        let Some(gpu) = test_gpu() else { return };
        let a = GpuTensor::from_slice(gpu, &[3], &[1.0, 2.0, 3.0]);
        let empty = GpuTensor::zeros(gpu, &[0]);
        let b = GpuTensor::from_slice(gpu, &[2, 2], &[4.0, 5.0, 6.0, 7.0]);
        let got = pollster::block_on(super::read_tensors(gpu, &[&a, &empty, &b])).unwrap();
        assert_eq!(got, vec![vec![1.0, 2.0, 3.0], vec![], vec![4.0, 5.0, 6.0, 7.0]]);
    }
}
