// gguf_dequant — shared helpers (no entry point) that read frozen weights in their GGUF
// storage type, mirroring core/src/quant/dequant.rs (ggml's dequantize_row_*).
//
// The including kernel declares `w: array<u32>`: the raw bytes of one row chunk of a
// (rows, cols) matrix, row r starting at byte r * row_bytes. Blocks are 18/22/34/110/210 bytes
// for Q4_0/Q5_0/Q8_0/Q3_K/Q6_K, so reads may be unaligned: bytes are extracted from u32 words.
// The type is the pipeline-overridable constant WTYPE (GGUF type id: F32 0, F16 1, Q4_0 2,
// Q4_1 3, Q5_0 6, Q5_1 7, Q8_0 8, Q2_K 10, Q3_K 11, Q4_K 12, Q5_K 13, Q6_K 14, BF16 30); the
// compiler folds the switches away.
//
// Every type is read in groups of 16 consecutive values of a row sharing one affine map:
//   x[row][k] = q[k] * s.x + s.y,  s = wscale16(row_byte, k / 16),  q = wquant4(row_byte, k)
// (wquant4 returns 4 values k..k+3, k % 4 == 0, as unsigned quants). Float types have
// s = (1, 0). The 32-value blocks (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0) are two groups; Q2_K, Q3_K
// and Q6_K have a scale per 16 values, Q4_K and Q5_K per 32. Every product q * s.x is exact
// in f32 (integers of at most 8 bits times f16 scales times 6-bit sub-scales), so a fused
// multiply-add gives the CPU reference's value (core/src/quant/kquants.rs says why).

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

// The byte at offset `off`, as an unsigned value.
fn wbyte(off: u32) -> u32 {
    return (w[off >> 2u] >> ((off & 3u) * 8u)) & 0xffu;
}

// Bits j..j+3 of `u` (j <= 28), one per byte: bit j + c of u at bit 0 of byte c.
fn bits4(u: u32, j: u32) -> u32 {
    let h = u >> j;
    return (h & 1u) | ((h & 2u) << 7u) | ((h & 4u) << 14u) | ((h & 8u) << 21u);
}

// Scale pair of 32-value sub-block j (0..8) of the Q4_K / Q5_K block at byte b
// {f16 d, dmin; u8 scales[12]; ...}: (d * sc, -dmin * m), get_scale_min_k4.
fn k4_scale(b: u32, j: u32) -> vec2<f32> {
    let dm = unpack2x16float(w[b >> 2u]);
    var sc: u32;
    var m: u32;
    if (j < 4u) {
        sc = wbyte(b + 4u + j) & 63u;
        m = wbyte(b + 8u + j) & 63u;
    } else {
        let hi = wbyte(b + 8u + j);
        sc = (hi & 0xfu) | ((wbyte(b + j) >> 6u) << 4u);
        m = (hi >> 4u) | ((wbyte(b + 4u + j) >> 6u) << 4u);
    }
    return vec2<f32>(dm.x * f32(sc), -dm.y * f32(m));
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
        case 6u: { // Q5_0 {f16 d; u8 qh[4]; u8 qs[16]}: d * (q - 16)
            let d = whalf(rb + (g >> 1u) * 22u);
            return vec2<f32>(d, -16.0 * d);
        }
        case 7u: { // Q5_1 {f16 d; f16 m; u8 qh[4]; u8 qs[16]}: d * q + m
            return unpack2x16float(w[(rb + (g >> 1u) * 24u) >> 2u]);
        }
        case 10u: { // Q2_K {u8 scales[16]; u8 qs[64]; f16 d, dmin}: d * sc * q - dmin * m
            let b = rb + (g >> 4u) * 84u;
            let sc = wbyte(b + (g & 15u));
            let dm = unpack2x16float(w[(b + 80u) >> 2u]);
            return vec2<f32>(dm.x * f32(sc & 0xfu), -dm.y * f32(sc >> 4u));
        }
        case 11u: { // Q3_K {u8 hmask[32]; u8 qs[64]; u8 scales[12]; f16 d}: d * sc * (q - 4)
            let b = rb + (g >> 4u) * 110u;
            let j = g & 15u; // signed 6-bit scale: 4 bits in scales[j % 8], 2 in scales[8 + j % 4]
            let lo = (wbyte(b + 96u + (j & 7u)) >> ((j >> 3u) * 4u)) & 0xfu;
            let hi = (wbyte(b + 104u + (j & 3u)) >> ((j >> 2u) * 2u)) & 3u;
            let ds = whalf(b + 108u) * f32(i32(lo | (hi << 4u)) - 32);
            return vec2<f32>(ds, -4.0 * ds);
        }
        case 12u: { // Q4_K {f16 d, dmin; u8 scales[12]; u8 qs[128]}: d * sc * q - dmin * m
            return k4_scale(rb + (g >> 4u) * 144u, (g & 15u) >> 1u);
        }
        case 13u: { // Q5_K {f16 d, dmin; u8 scales[12]; u8 qh[32]; u8 qs[128]}: as Q4_K
            return k4_scale(rb + (g >> 4u) * 176u, (g & 15u) >> 1u);
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
        case 6u: { // Q5_0: Q4_0's nibbles, bit j of qh as bit 4
            let j = k & 31u;
            let b = rb + (k >> 5u) * 22u;
            let lo = (wu32(b + 6u + (j & 15u)) >> ((j >> 4u) * 4u)) & 0x0f0f0f0fu;
            return ubytes4(lo | (bits4(wu32(b + 2u), j) << 4u));
        }
        case 7u: { // Q5_1: as Q5_0, 24-byte blocks (aligned)
            let j = k & 31u;
            let b = rb + (k >> 5u) * 24u;
            let lo = (w[(b + 8u + (j & 15u)) >> 2u] >> ((j >> 4u) * 4u)) & 0x0f0f0f0fu;
            return ubytes4(lo | (bits4(w[(b + 4u) >> 2u], j) << 4u));
        }
        case 10u: { // Q2_K: value 128 h + 32 s + l at bits 2 s of qs[32 h + l]
            let j = k & 255u;
            let q = w[(rb + (k >> 8u) * 84u + 16u + (j >> 7u) * 32u + (j & 31u)) >> 2u];
            return ubytes4((q >> (((j >> 5u) & 3u) * 2u)) & 0x03030303u);
        }
        case 11u: { // Q3_K: Q2_K's 2 low bits (qs at 32), bit j / 32 of hmask[j % 32] as bit 2
            let j = k & 255u;
            let b = rb + (k >> 8u) * 110u;
            let lo = (wu32(b + 32u + (j >> 7u) * 32u + (j & 31u)) >> (((j >> 5u) & 3u) * 2u)) & 0x03030303u;
            let hi = (wu32(b + (j & 31u)) >> (j >> 5u)) & 0x01010101u;
            return ubytes4(lo | (hi << 2u));
        }
        case 13u: { // Q5_K: Q4_K's nibbles (qs at 48), bit j / 32 of qh[j % 32] as bit 4
            let j = k & 255u;
            let b = rb + (k >> 8u) * 176u;
            let lo = (w[(b + 48u + (j >> 6u) * 32u + (j & 31u)) >> 2u] >> (((j >> 5u) & 1u) * 4u)) & 0x0f0f0f0fu;
            let hi = (w[(b + 16u + (j & 31u)) >> 2u] >> (j >> 5u)) & 0x01010101u;
            return ubytes4(lo | (hi << 4u));
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
