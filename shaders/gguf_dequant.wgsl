// gguf_dequant — shared helpers (no entry point) that read frozen weights in their GGUF
// storage type, mirroring core/src/quant/dequant.rs (ggml's dequantize_row_*).
//
// The including kernel declares `w: array<u32>`: the raw bytes of one row chunk of a
// (rows, cols) matrix, row r starting at byte r * row_bytes. Blocks are 18/34/210 bytes for
// Q4_0/Q8_0/Q6_K, so reads may be unaligned: bytes are extracted from u32 words.
// The type is the pipeline-overridable constant WTYPE (GGUF type id: F32 0, F16 1, Q4_0 2,
// Q4_1 3, Q8_0 8, Q4_K 12, Q6_K 14, BF16 30); the compiler folds the switches away.
//
// Every type is read in groups of 16 consecutive values of a row sharing one affine map:
//   x[row][k] = q[k] * s.x + s.y,  s = wscale16(row_byte, k / 16),  q = wquant4(row_byte, k)
// (wquant4 returns 4 values k..k+3, k % 4 == 0). Float types have s = (1, 0).

override WTYPE: u32;

// The 4 bytes at byte offset `off` (any alignment), little-endian.
fn wu32(off: u32) -> u32 {
    let i = off >> 2u;
    let s = (off & 3u) * 8u;
    let a = w[i];
    return select((a >> s) | (w[i + 1u] << (32u - s)), a, s == 0u);
}

// The f16 at an even byte offset.
fn whalf(off: u32) -> f32 {
    return unpack2x16float(w[off >> 2u] >> ((off & 2u) * 8u)).x;
}

// Bytes of `u` as unsigned values.
fn ubytes4(u: u32) -> vec4<f32> {
    return vec4<f32>((vec4<u32>(u) >> vec4<u32>(0u, 8u, 16u, 24u)) & vec4<u32>(0xffu));
}

// Bytes of `u` as signed (int8) values.
fn sbytes4(u: u32) -> vec4<f32> {
    return vec4<f32>((vec4<i32>(bitcast<i32>(u)) << vec4<u32>(24u, 16u, 8u, 0u)) >> vec4<u32>(24u));
}

fn bf16x2(u: u32) -> vec2<f32> {
    return vec2<f32>(bitcast<f32>(u << 16u), bitcast<f32>(u & 0xffff0000u));
}

// Scale and offset of the 16-value group g of the row starting at byte rb.
fn wscale16(rb: u32, g: u32) -> vec2<f32> {
    switch WTYPE {
        case 8u: { // Q8_0 {f16 d; i8 qs[32]}
            return vec2<f32>(whalf(rb + (g >> 1u) * 34u), 0.0);
        }
        case 2u: { // Q4_0 {f16 d; u8 qs[16]}: d * (q - 8)
            let d = whalf(rb + (g >> 1u) * 18u);
            return vec2<f32>(d, -8.0 * d);
        }
        case 3u: { // Q4_1 {f16 d; f16 m; u8 qs[16]}: d * q + m
            return unpack2x16float(w[(rb + (g >> 1u) * 20u) >> 2u]);
        }
        case 12u: { // Q4_K {f16 d, dmin; u8 scales[12]; u8 qs[128]}: d * sc * q - dmin * m
            let b = rb + (g >> 4u) * 144u;
            let dm = unpack2x16float(w[b >> 2u]);
            let j = (g & 15u) >> 1u; // sub-block of 32 values (get_scale_min_k4)
            var sc: u32;
            var m: u32;
            if (j < 4u) {
                sc = wu32(b + 4u + j) & 63u;
                m = wu32(b + 8u + j) & 63u;
            } else {
                let hi = wu32(b + 8u + j) & 0xffu;
                sc = (hi & 0xfu) | (((wu32(b + j) & 0xffu) >> 6u) << 4u);
                m = (hi >> 4u) | (((wu32(b + 4u + j) & 0xffu) >> 6u) << 4u);
            }
            return vec2<f32>(dm.x * f32(sc), -dm.y * f32(m));
        }
        case 14u: { // Q6_K {u8 ql[128]; u8 qh[64]; i8 scales[16]; f16 d}: d * sc * (q - 32)
            let b = rb + (g >> 4u) * 210u;
            let ds = whalf(b + 208u) * sbytes4(wu32(b + 192u + (g & 15u))).x;
            return vec2<f32>(ds, -32.0 * ds);
        }
        default: { // F32, F16, BF16
            return vec2<f32>(1.0, 0.0);
        }
    }
}

// Raw quants (or values, for float types) k..k+3 of the row starting at byte rb; k % 4 == 0.
fn wquant4(rb: u32, k: u32) -> vec4<f32> {
    switch WTYPE {
        case 0u: { // F32
            let i = (rb >> 2u) + k;
            return bitcast<vec4<f32>>(vec4<u32>(w[i], w[i + 1u], w[i + 2u], w[i + 3u]));
        }
        case 1u: { // F16
            let off = rb + 2u * k;
            return vec4<f32>(unpack2x16float(wu32(off)), unpack2x16float(wu32(off + 4u)));
        }
        case 30u: { // BF16
            let off = rb + 2u * k;
            return vec4<f32>(bf16x2(wu32(off)), bf16x2(wu32(off + 4u)));
        }
        case 8u: { // Q8_0
            return sbytes4(wu32(rb + (k >> 5u) * 34u + 2u + (k & 31u)));
        }
        case 2u: { // Q4_0: value j < 16 low nibble of qs[j], j >= 16 high nibble of qs[j - 16]
            let j = k & 31u;
            let q = wu32(rb + (k >> 5u) * 18u + 2u + (j & 15u));
            return ubytes4((q >> ((j >> 4u) * 4u)) & 0x0f0f0f0fu);
        }
        case 3u: { // Q4_1: as Q4_0, 20-byte blocks (aligned)
            let j = k & 31u;
            let q = w[(rb + (k >> 5u) * 20u + 4u + (j & 15u)) >> 2u];
            return ubytes4((q >> ((j >> 4u) * 4u)) & 0x0f0f0f0fu);
        }
        case 12u: { // Q4_K: each 64 values use 32 bytes, low nibbles then high nibbles
            let j = k & 255u;
            let q = w[(rb + (k >> 8u) * 144u + 16u + (j >> 6u) * 32u + (j & 31u)) >> 2u];
            return ubytes4((q >> (((j >> 5u) & 1u) * 4u)) & 0x0f0f0f0fu);
        }
        case 14u: { // Q6_K: 4 low bits in ql, 2 high bits in qh
            let b = rb + (k >> 8u) * 210u;
            let j = k & 255u;
            let n = j >> 7u;          // half of the block
            let quarter = (j >> 5u) & 3u;
            let l = j & 31u;
            let ql = wu32(b + n * 64u + (quarter & 1u) * 32u + l);
            let qh = wu32(b + 128u + n * 32u + l);
            let lo = (ql >> ((quarter >> 1u) * 4u)) & 0x0f0f0f0fu;
            let hi = ((qh >> (2u * quarter)) & 0x03030303u) << 4u;
            return ubytes4(lo | hi);
        }
        default: {
            return vec4<f32>(0.0);
        }
    }
}

// One value: x[row][k] of the row starting at byte rb (any k).
fn wdeq1(rb: u32, k: u32) -> f32 {
    switch WTYPE {
        case 0u: {
            return bitcast<f32>(w[(rb >> 2u) + k]);
        }
        case 1u: {
            return whalf(rb + 2u * k);
        }
        case 30u: {
            let off = rb + 2u * k;
            return bitcast<f32>(((w[off >> 2u] >> ((off & 2u) * 8u)) & 0xffffu) << 16u);
        }
        default: {
            let s = wscale16(rb, k >> 4u);
            return wquant4(rb, k & ~3u)[k & 3u] * s.x + s.y;
        }
    }
}
