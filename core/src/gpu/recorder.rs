//! Records kernel dispatches into one command encoder. Ops call [`Recorder::dispatch`]; the
//! caller calls [`Recorder::submit`] once per forward pass / training step. While the device
//! has a pending error ([`Gpu::take_error`]: a refused buffer, a wgpu validation error) nothing
//! is recorded or submitted; the next readback returns the error.

use super::context::Gpu;
use super::kernels::Kernel;

/// Workgroups for `n` invocations of `workgroup_size`, spread over x and y so that no
/// dimension exceeds 65535. Kernels rebuild the linear index as
/// `gid.x + gid.y * (num_workgroups.x * workgroup_size)`.
pub fn grid_1d(n: usize, workgroup_size: u32) -> [u32; 3] {
    let groups = n.div_ceil(workgroup_size as usize).max(1) as u32;
    if groups <= 65535 { [groups, 1, 1] } else { [65535, groups.div_ceil(65535), 1] }
}

/// An open command encoder plus counters (`anytune bench` reports dispatches per step).
pub struct Recorder<'g> {
    pub gpu: &'g Gpu,
    encoder: wgpu::CommandEncoder,
    pub dispatches: u32,
    /// Timestamp queries of the dispatches, while the device profiles.
    queries: Option<super::timestamps::RecorderQueries>,
    /// The dispatches' uniform params, written when the recorder submits.
    params: super::params_arena::ParamsArena,
}

impl<'g> Recorder<'g> {
    pub fn new(gpu: &'g Gpu) -> Self {
        let encoder = gpu.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("anytune") });
        Recorder { gpu, encoder, dispatches: 0, queries: super::timestamps::RecorderQueries::new(gpu), params: super::params_arena::ParamsArena::new(gpu) }
    }

    /// Records one dispatch of `kernel`. `params` becomes the uniform at binding 0; `buffers`
    /// are bound at 1, 2, … in order (inputs first, outputs last).
    pub fn dispatch<P: bytemuck::Pod>(
        &mut self,
        kernel: &Kernel,
        params: &P,
        buffers: &[wgpu::BindingResource<'_>],
        workgroups: [u32; 3],
    ) {
        self.dispatch_with(kernel, &[], params, buffers, workgroups)
    }

    /// Like [`dispatch`](Self::dispatch), with pipeline-overridable constants (`override` in WGSL).
    pub fn dispatch_with<P: bytemuck::Pod>(
        &mut self,
        kernel: &Kernel,
        constants: &[(&str, f64)],
        params: &P,
        buffers: &[wgpu::BindingResource<'_>],
        workgroups: [u32; 3],
    ) {
        if self.gpu.has_error() {
            return;
        }
        let device = &self.gpu.device;
        let pipeline = self.gpu.pipelines.get(device, kernel, constants);
        let mut entries = vec![wgpu::BindGroupEntry { binding: 0, resource: self.params.push(device, bytemuck::bytes_of(params)) }];
        for (i, resource) in buffers.iter().enumerate() {
            entries.push(wgpu::BindGroupEntry { binding: i as u32 + 1, resource: resource.clone() });
        }
        let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some(kernel.entry),
            layout: &pipeline.get_bind_group_layout(0),
            entries: &entries,
        });
        let timestamp_writes = self.queries.as_mut().map(|q| q.next(self.gpu, kernel.entry));
        let mut pass = self.encoder.begin_compute_pass(&wgpu::ComputePassDescriptor { label: Some(kernel.entry), timestamp_writes });
        pass.set_pipeline(&pipeline);
        pass.set_bind_group(0, &bind_group, &[]);
        pass.dispatch_workgroups(workgroups[0], workgroups[1], workgroups[2]);
        self.dispatches += 1;
    }

    /// Copies `size` bytes between buffers inside the same submission.
    pub fn copy(&mut self, src: &wgpu::Buffer, src_offset: u64, dst: &wgpu::Buffer, dst_offset: u64, size: u64) {
        if self.gpu.has_error() {
            return;
        }
        self.encoder.copy_buffer_to_buffer(src, src_offset, dst, dst_offset, size);
    }

    /// Zero-fills `tensor` inside the same submission (`CommandEncoder::clear_buffer`, no
    /// kernel): for gradient buffers that accumulate with `+=`.
    pub fn clear(&mut self, tensor: &super::GpuTensor) {
        if self.gpu.has_error() {
            return;
        }
        self.encoder.clear_buffer(&tensor.buffer, 0, None);
    }

    /// The encoder, for readback copies.
    pub(crate) fn encoder(&mut self) -> &mut wgpu::CommandEncoder {
        &mut self.encoder
    }

    /// Submits everything recorded so far as one command buffer; submits nothing (`None`) while
    /// an error is pending, including one found when the encoder is finished.
    pub fn submit(mut self) -> Option<wgpu::SubmissionIndex> {
        if self.gpu.has_error() {
            return None;
        }
        let profiled = self.queries.take().and_then(|q| q.resolve(self.gpu, &mut self.encoder));
        let commands = self.encoder.finish();
        if self.gpu.has_error() {
            return None;
        }
        self.params.write(&self.gpu.queue);
        let index = self.gpu.queue.submit(Some(commands));
        if let Some(p) = profiled {
            p.submitted(self.gpu);
        }
        Some(index)
    }
}
