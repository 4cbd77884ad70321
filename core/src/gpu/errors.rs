//! GPU errors as values, never panics. wgpu reports validation errors, out-of-memory and a lost
//! device through the device's uncaptured-error handler, whose default panics. [`super::Gpu::new`]
//! installs one that keeps the *first* error in an [`ErrorSlot`]; buffers too large for the
//! adapter are refused before they are created ([`super::Gpu::check_buffer`]) and kept there too.
//! While an error is pending, [`super::Recorder`] records and submits nothing, and the next
//! readback (or [`super::Gpu::take_error`]) returns it, so an operation that went wrong on the GPU ends
//! as `Err(Error::Gpu | Error::TooLarge)` from the call that awaited its result.

use crate::error::{Error, Result};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

/// The first GPU error since the last [`super::Gpu::take_error`].
#[derive(Default)]
pub(crate) struct ErrorSlot {
    /// Cheap test for the recorder's hot path.
    pending: AtomicBool,
    first: Mutex<Option<Error>>,
}

impl ErrorSlot {
    /// Keeps `error` unless one is already pending (later errors are usually its consequences).
    pub(crate) fn record(&self, error: Error) {
        let mut first = self.first.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if first.is_none() {
            *first = Some(error);
            self.pending.store(true, Ordering::Release);
        }
    }

    pub(crate) fn pending(&self) -> bool {
        self.pending.load(Ordering::Acquire)
    }

    pub(crate) fn take(&self) -> Option<Error> {
        if !self.pending() {
            return None; // the common case: no lock on every readback
        }
        let mut first = self.first.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        self.pending.store(false, Ordering::Release);
        first.take()
    }
}

/// wgpu's error as one line: "In Device::create_bind_group, label = 'x': Buffer binding 3 …".
pub(crate) fn describe(error: &wgpu::Error) -> String {
    let text = match error {
        wgpu::Error::OutOfMemory { source } => format!("out of GPU memory: {source}"),
        other => other.to_string(), // the description (validation, internal)
    };
    let text = text.replace("Validation Error", "").replace("Caused by:", "");
    let parts: Vec<&str> = text.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    parts.join(": ")
}

/// MiB, rounded up, for limits and sizes in messages.
fn mib(bytes: u64) -> u64 {
    bytes.div_ceil(1024 * 1024)
}

/// Installs the handlers that turn wgpu's uncaptured errors and a lost device into pending
/// errors in `slot` (called once by [`super::Gpu::new`]).
pub(crate) fn capture_errors(device: &wgpu::Device, slot: &std::sync::Arc<ErrorSlot>) {
    let s = slot.clone();
    device.on_uncaptured_error(std::sync::Arc::new(move |e: wgpu::Error| s.record(Error::Gpu(describe(&e)))));
    let s = slot.clone();
    device.set_device_lost_callback(move |reason, message| {
        s.record(Error::Gpu(format!("the device was lost ({reason:?}): {message}")));
    });
}

/// Refuses a buffer of `bytes` larger than `limits`' buffer size, or, for one bound as storage
/// (`storage`), than its storage-binding limit. `what` describes the buffer (only called for a
/// refusal, so the check costs no formatting on the way).
pub(crate) fn check_buffer(limits: &wgpu::Limits, bytes: u64, storage: bool, what: impl FnOnce() -> String) -> Result<()> {
    let too_large = |limit: String| {
        Err(Error::TooLarge { what: format!("{} takes {} MiB ({bytes} bytes)", what(), mib(bytes)), limit })
    };
    if bytes > limits.max_buffer_size {
        return too_large(format!("{} MiB per buffer", limits.max_buffer_size / (1024 * 1024)));
    }
    if storage && bytes > limits.max_storage_buffer_binding_size {
        return too_large(format!("{} MiB per storage binding", limits.max_storage_buffer_binding_size / (1024 * 1024)));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::gpu::{Gpu, GpuOptions, GpuTensor, Recorder, kernels};
    use crate::{Error, testing::test_gpu};

    /// A device of its own: these tests make errors on purpose, which must not reach the tests
    /// sharing [`test_gpu`].
    fn own_gpu() -> Option<Gpu> {
        test_gpu()?;
        Some(pollster::block_on(Gpu::new(&GpuOptions::default())).expect("a second device"))
    }

    #[test]
    fn a_tensor_over_the_binding_limit_is_refused_and_read_back_as_too_large() {
        let Some(gpu) = own_gpu() else { return };
        let rows = (gpu.max_binding() / 4 / 64 + 1) as usize;
        let big = GpuTensor::zeros(&gpu, &[rows, 64]);
        assert!(gpu.has_error());
        let err = pollster::block_on(big.to_vec(&gpu)).unwrap_err();
        assert!(matches!(err, Error::TooLarge { .. }), "{err}");
        let msg = err.to_string();
        println!("{msg}");
        assert!(msg.contains(&format!("[{rows}, 64]")) && msg.contains("per storage binding"), "{msg}");
        // The error was taken: the device works again.
        let small = GpuTensor::from_slice(&gpu, &[2], &[1.0, 2.0]);
        assert_eq!(pollster::block_on(small.to_vec(&gpu)).unwrap(), vec![1.0, 2.0]);
    }

    #[test]
    fn an_invalid_dispatch_is_an_error_not_a_panic() {
        let Some(gpu) = own_gpu() else { return };
        // add_forward binds two storage buffers; binding a uniform-only buffer where storage is
        // expected, and too few bindings, are both validation errors.
        let x = GpuTensor::from_slice(&gpu, &[4], &[1.0; 4]);
        let mut rec = Recorder::new(&gpu);
        rec.dispatch(&kernels::ADD_FORWARD, &[4u32, 0, 0, 0], &[x.binding()], [1, 1, 1]);
        let err = pollster::block_on(x.read(rec)).unwrap_err();
        let msg = err.to_string();
        println!("{msg}");
        assert!(matches!(err, Error::Gpu(_)) && msg.starts_with("GPU error: ") && msg.contains("add_forward"), "{msg}");
        assert!(!msg.contains('\n'), "one line: {msg}");
        assert_eq!(pollster::block_on(x.to_vec(&gpu)).unwrap(), vec![1.0; 4]);
    }

    #[test]
    fn an_out_of_range_copy_is_an_error() {
        let Some(gpu) = own_gpu() else { return };
        let a = GpuTensor::from_slice(&gpu, &[4], &[1.0; 4]);
        let b = GpuTensor::zeros(&gpu, &[2]);
        let mut rec = Recorder::new(&gpu);
        rec.copy(&a.buffer, 0, &b.buffer, 0, 16);
        let err = pollster::block_on(b.read(rec)).unwrap_err();
        println!("{err}");
        assert!(matches!(err, Error::Gpu(_)), "{err}");
    }
}
