//! Starting a profile and reading it back: [`Gpu::start_profile`], [`Gpu::take_profile`]
//! (see [`super::profile`]).

use super::context::Gpu;
use super::profile::KernelTime;
use crate::error::{Error, Result};

impl Gpu {
    /// Turns profiling on (dropping anything recorded before): every dispatch recorded from
    /// now on is timed. Errors when the adapter has no timestamp queries.
    pub fn start_profile(&self) -> Result<()> {
        self.can_profile()?;
        self.profile.with(|state| *state = Some(Vec::new()));
        Ok(())
    }

    /// Whether this adapter can profile (timestamp queries); the error says it cannot.
    pub fn can_profile(&self) -> Result<()> {
        if !self.features.timestamp_query {
            return Err(Error::Gpu(format!("adapter {} has no timestamp queries: cannot profile", self.report.name)));
        }
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
