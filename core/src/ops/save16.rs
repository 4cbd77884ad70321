//! The 16-bit store of saved activations (`shaders/save16_pack.wgsl`, `save16_unpack.wgsl`):
//! a training forward that keeps every layer's activations in 16 bits
//! ([`crate::model::Saved::AllLayers16`]) packs each layer's large tensors, two values per u32
//! word, into the layer's store after the layer runs, and unpacks them into the one f32 set
//! before the layer's backward. Up to four tensors per dispatch.
//!
//! ```text
//! pack:    store[word0_s + j] = enc(x_s[2j]) | enc(x_s[2j + 1]) << 16      for each slot s
//! unpack:  x_s[2j] = dec(store[word0_s + j] & 0xffff), x_s[2j + 1] = dec(… >> 16)
//! ```
//! f16 for the matmul operands (11 significant bits; past ±65504 a value becomes ±inf, which the
//! trainer reports as a non-finite gradient), bf16 for the residual stream (8 bits, f32's range).

use crate::error::{Error, Result};
use crate::gpu::{GpuTensor, Recorder, grid_1d, kernels};

/// How a tensor is stored in 16 bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format16 {
    /// IEEE binary16.
    F16,
    /// The top half of the f32, rounded to nearest even.
    Bf16,
}

/// Slots per dispatch (bindings 1–4 of the kernels).
const SLOTS: usize = 4;

/// Mirrors `Params` in `shaders/save16_common.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    n: [u32; 4],
    word0: [u32; 4],
    format: [u32; 4],
    first: [u32; 4],
    words: u32,
    _pad: [u32; 3],
}

/// Words of a store holding tensors of `lens` values.
pub fn store_words(lens: impl IntoIterator<Item = usize>) -> usize {
    lens.into_iter().map(|n| n.div_ceil(2)).sum()
}

/// One dispatch's params for `slots` (≤ 4) starting at word `word0` of the store.
fn params(slots: &[(&GpuTensor, Format16)], mut word0: usize) -> Params {
    let mut p = Params { n: [0; 4], word0: [0; 4], format: [0; 4], first: [0; 4], words: 0, _pad: [0; 3] };
    for (s, (t, f)) in slots.iter().enumerate() {
        let words = t.len().div_ceil(2);
        (p.n[s], p.word0[s], p.format[s], p.first[s]) = (t.len() as u32, word0 as u32, (*f == Format16::Bf16) as u32, p.words);
        p.words += words as u32;
        word0 += words;
    }
    for s in slots.len()..SLOTS {
        p.first[s] = p.words;
    }
    p
}

/// Records the packing (`unpack` false) or unpacking of `slots` into / out of `store` (u32
/// words as an f32-typed buffer of [`store_words`] values). `spares`: three one-value buffers
/// bound where a dispatch has fewer than four slots.
pub fn save16(rec: &mut Recorder, slots: &[(&GpuTensor, Format16)], store: &GpuTensor, spares: &[GpuTensor; 3], unpack: bool) -> Result<()> {
    let words = store_words(slots.iter().map(|(t, _)| t.len()));
    if store.len() < words {
        return Err(Error::invalid("16-bit store", format!("{} words for tensors that take {words}", store.len())));
    }
    let kernel = if unpack { &kernels::SAVE16_UNPACK } else { &kernels::SAVE16_PACK };
    let mut word0 = 0;
    for group in slots.chunks(SLOTS) {
        let p = params(group, word0);
        let mut bindings: Vec<wgpu::BindingResource> = (0..SLOTS).map(|s| group.get(s).map_or(spares[s.max(1) - 1].binding(), |(t, _)| t.binding())).collect();
        if unpack { bindings.insert(0, store.binding()) } else { bindings.push(store.binding()) }
        rec.dispatch(kernel, &p, &bindings, grid_1d(p.words as usize, 256));
        word0 += p.words as usize;
    }
    Ok(())
}

/// CPU reference of the kernels' encoding.
pub fn encode_cpu(x: f32, format: Format16) -> u16 {
    match format {
        Format16::Bf16 => {
            let u = x.to_bits();
            (u.wrapping_add(0x7fff + ((u >> 16) & 1)) >> 16) as u16
        }
        Format16::F16 if x.abs() > 65504.0 => if x < 0.0 { 0xfc00 } else { 0x7c00 },
        Format16::F16 => half::f16::from_f32(x).to_bits(),
    }
}

/// CPU reference of the kernels' decoding.
pub fn decode_cpu(h: u16, format: Format16) -> f32 {
    match format {
        Format16::Bf16 => f32::from_bits((h as u32) << 16),
        Format16::F16 => half::f16::from_bits(h).to_f32(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{Rng, test_gpus};

    /// Six tensors of odd lengths (two dispatches, the second with two spare slots) packed and
    /// unpacked round-trip to the CPU reference's rounding, and the store holds the reference's
    /// words; overflow of f16 gives ±inf, bf16 keeps large values.
    #[test]
    fn pack_and_unpack_match_the_cpu_reference() {
        let mut rng = Rng::new(3);
        let lens = [7usize, 1, 300, 513, 2, 65];
        let formats = [Format16::F16, Format16::Bf16, Format16::F16, Format16::F16, Format16::Bf16, Format16::Bf16];
        let mut values: Vec<Vec<f32>> = lens.iter().map(|&n| rng.normal_vec(n, 3.0)).collect();
        values[0][3] = 70000.0;
        values[0][4] = -1e6;
        values[1][0] = 3.0e38;
        for gpu in test_gpus() {
            let tensors: Vec<GpuTensor> = values.iter().map(|v| GpuTensor::from_slice(gpu, &[v.len()], v)).collect();
            let slots: Vec<(&GpuTensor, Format16)> = tensors.iter().zip(formats).collect();
            let store = GpuTensor::zeros(gpu, &[store_words(lens)]);
            let spares = [(); 3].map(|_| GpuTensor::zeros(gpu, &[1]));
            let mut rec = Recorder::new(gpu);
            save16(&mut rec, &slots, &store, &spares, false).unwrap();
            let words: Vec<u32> = pollster::block_on(store.read(rec)).unwrap().iter().map(|w| w.to_bits()).collect();
            let expected: Vec<u32> = values
                .iter()
                .zip(formats)
                .flat_map(|(v, f)| v.chunks(2).map(move |p| encode_cpu(p[0], f) as u32 | (p.get(1).map_or(0, |&x| encode_cpu(x, f)) as u32) << 16))
                .collect();
            let mismatched = words.iter().zip(&expected).filter(|(a, b)| a != b).count();
            assert!(mismatched == 0, "{mismatched} of {} words differ from the reference", words.len());
            let outs: Vec<GpuTensor> = lens.iter().map(|&n| GpuTensor::zeros(gpu, &[n])).collect();
            let out_slots: Vec<(&GpuTensor, Format16)> = outs.iter().zip(formats).collect();
            let mut rec = Recorder::new(gpu);
            save16(&mut rec, &out_slots, &store, &spares, true).unwrap();
            rec.submit();
            for ((out, v), f) in outs.iter().zip(&values).zip(formats) {
                let got = pollster::block_on(out.read(Recorder::new(gpu))).unwrap();
                let want: Vec<f32> = v.iter().map(|&x| decode_cpu(encode_cpu(x, f), f)).collect();
                assert_eq!(got, want, "{f:?} values of a tensor of {}", v.len());
            }
            assert_eq!(decode_cpu(encode_cpu(70000.0, Format16::F16), Format16::F16), f32::INFINITY);
            assert!((decode_cpu(encode_cpu(3.0e38, Format16::Bf16), Format16::Bf16) / 3.0e38 - 1.0).abs() < 4e-3);
            let short = GpuTensor::zeros(gpu, &[3]);
            assert!(save16(&mut Recorder::new(gpu), &slots, &short, &spares, false).unwrap_err().to_string().contains("words"));
        }
    }
}
