//! [`GpuTensor`]: an f32 storage buffer with a row-major shape. Activations, gradients, LoRA
//! weights and optimizer state are all `GpuTensor`s; frozen base weights are
//! [`crate::weights::Weight`]s in their stored format.

use super::context::Gpu;
use super::readback;
use super::recorder::Recorder;
use crate::error::Result;
use wgpu::util::DeviceExt;

const USAGE: wgpu::BufferUsages = wgpu::BufferUsages::STORAGE
    .union(wgpu::BufferUsages::COPY_SRC)
    .union(wgpu::BufferUsages::COPY_DST);

/// A row-major f32 tensor on the GPU. A clone is another handle on the same buffer.
#[derive(Clone, Debug)]
pub struct GpuTensor {
    pub buffer: wgpu::Buffer,
    pub shape: Vec<usize>,
}

impl GpuTensor {
    /// Uploads `data` (its length must equal the product of `shape`). A tensor too large for
    /// the adapter is refused by [`Gpu::check_buffer`]: the refusal becomes the pending error
    /// (returned by the next readback) and the tensor gets a one-value placeholder buffer.
    pub fn from_slice(gpu: &Gpu, shape: &[usize], data: &[f32]) -> GpuTensor {
        debug_assert_eq!(shape.iter().product::<usize>(), data.len(), "shape {shape:?} vs {} values", data.len());
        if !Self::fits(gpu, shape) {
            return Self::placeholder(gpu, shape);
        }
        // wgpu refuses zero-sized bindings: keep at least one element.
        let padded;
        let contents = if data.is_empty() {
            padded = [0f32];
            &padded[..]
        } else {
            data
        };
        let buffer = gpu.device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: None,
            contents: bytemuck::cast_slice(contents),
            usage: USAGE,
        });
        GpuTensor { buffer, shape: shape.to_vec() }
    }

    /// A zero-filled tensor (refused as [`GpuTensor::from_slice`] refuses one too large).
    pub fn zeros(gpu: &Gpu, shape: &[usize]) -> GpuTensor {
        if !Self::fits(gpu, shape) {
            return Self::placeholder(gpu, shape);
        }
        Self::zeroed(gpu, shape, shape.iter().product::<usize>().max(1))
    }

    /// Whether a tensor of `shape` fits one storage binding; if not, the refusal is recorded as
    /// the pending error.
    fn fits(gpu: &Gpu, shape: &[usize]) -> bool {
        let bytes = shape.iter().try_fold(4u64, |acc, &d| acc.checked_mul(d as u64)).unwrap_or(u64::MAX);
        match gpu.check_buffer(bytes, true, || format!("a GPU tensor of shape {shape:?} (f32)")) {
            Ok(()) => true,
            Err(e) => {
                gpu.record_error(e);
                false
            }
        }
    }

    /// Stands in for a refused tensor until the pending error is returned: recording is skipped
    /// meanwhile, so it is never computed with.
    fn placeholder(gpu: &Gpu, shape: &[usize]) -> GpuTensor {
        Self::zeroed(gpu, shape, 1)
    }

    fn zeroed(gpu: &Gpu, shape: &[usize], len: usize) -> GpuTensor {
        let buffer = gpu.device.create_buffer(&wgpu::BufferDescriptor {
            label: None,
            size: (len * 4) as u64,
            usage: USAGE,
            mapped_at_creation: false,
        });
        GpuTensor { buffer, shape: shape.to_vec() }
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The first `shape.product()` values of this buffer as a tensor of `shape` (the buffer is
    /// shared, not copied): one scratch buffer serves operands of several sizes.
    pub fn view(&self, shape: &[usize]) -> Result<GpuTensor> {
        let len: usize = shape.iter().product();
        if len > self.len() {
            return Err(crate::Error::invalid(
                "tensor view",
                format!("a view of {shape:?} needs {len} values, the buffer {:?} holds {}", self.shape, self.len()),
            ));
        }
        Ok(GpuTensor { buffer: self.buffer.clone(), shape: shape.to_vec() })
    }

    /// The whole buffer as a binding.
    pub fn binding(&self) -> wgpu::BindingResource<'_> {
        self.buffer.as_entire_binding()
    }

    /// Overwrites the contents from the host (queued before the next submit).
    pub fn write(&self, gpu: &Gpu, data: &[f32]) {
        gpu.queue.write_buffer(&self.buffer, 0, bytemuck::cast_slice(data));
    }

    /// Submits `rec` and reads the whole tensor back.
    pub async fn read(&self, rec: Recorder<'_>) -> Result<Vec<f32>> {
        readback::read_f32(rec, &self.buffer, 0, self.len()).await
    }

    /// Reads the tensor back with nothing else recorded (tests, debugging).
    pub async fn to_vec(&self, gpu: &Gpu) -> Result<Vec<f32>> {
        self.read(Recorder::new(gpu)).await
    }
}
