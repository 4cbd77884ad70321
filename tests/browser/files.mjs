// Readers for what the page downloads: a stored (uncompressed) ZIP, safetensors (f32) and the
// GGUF header's metadata keys — enough to check the adapter files without extra packages.

/** Entries of a ZIP through its central directory: Map(name → Buffer). Stored entries only. */
export function unzip(buf) {
  const end = buf.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  if (end < 0) throw new Error("not a ZIP: no end-of-central-directory record");
  const count = buf.readUInt16LE(end + 10);
  let at = buf.readUInt32LE(end + 16);
  const files = new Map();
  for (let i = 0; i < count; i++) {
    if (buf.readUInt32LE(at) !== 0x02014b50) throw new Error(`bad central directory entry ${i}`);
    const method = buf.readUInt16LE(at + 10);
    const size = buf.readUInt32LE(at + 20);
    const nameLen = buf.readUInt16LE(at + 28);
    const extraLen = buf.readUInt16LE(at + 30);
    const commentLen = buf.readUInt16LE(at + 32);
    const local = buf.readUInt32LE(at + 42);
    const name = buf.subarray(at + 46, at + 46 + nameLen).toString("utf8");
    if (method !== 0) throw new Error(`${name}: compression method ${method}, expected stored`);
    const start = local + 30 + buf.readUInt16LE(local + 26) + buf.readUInt16LE(local + 28);
    files.set(name, buf.subarray(start, start + size));
    at += 46 + nameLen + extraLen + commentLen;
  }
  return files;
}

/** Tensors of a safetensors file: { name: { dtype, shape, values: Float32Array | null } }. */
export function readSafetensors(buf) {
  const headerLen = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + headerLen).toString("utf8"));
  const base = 8 + headerLen;
  const out = {};
  for (const [name, t] of Object.entries(header)) {
    if (name === "__metadata__") continue;
    const [a, b] = t.data_offsets;
    const bytes = buf.subarray(base + a, base + b);
    const values = t.dtype === "F32" ? new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length)) : null;
    out[name] = { dtype: t.dtype, shape: t.shape, values };
  }
  return out;
}

/** Largest |a - b| / (1 + |b|) over tensors present in both (throws when keys or shapes differ). */
export function maxRelativeDiff(a, b) {
  const ka = Object.keys(a).sort(), kb = Object.keys(b).sort();
  if (ka.join() !== kb.join()) throw new Error(`different tensors: ${ka.join()} vs ${kb.join()}`);
  let worst = 0;
  for (const k of ka) {
    if (a[k].shape.join() !== b[k].shape.join()) throw new Error(`${k}: shape ${a[k].shape} vs ${b[k].shape}`);
    a[k].values.forEach((x, i) => {
      worst = Math.max(worst, Math.abs(x - b[k].values[i]) / (1 + Math.abs(b[k].values[i])));
    });
  }
  return worst;
}

/** Over tensors present in both: the largest ‖a − b‖ / ‖b‖ (Frobenius) and the largest |a − b|. */
export function normDiff(a, b) {
  maxRelativeDiff(a, b); // same keys and shapes
  let rel = 0, abs = 0;
  for (const k of Object.keys(a)) {
    let num = 0, den = 0;
    a[k].values.forEach((x, i) => {
      const y = b[k].values[i];
      num += (x - y) ** 2;
      den += y ** 2;
      abs = Math.max(abs, Math.abs(x - y));
    });
    rel = Math.max(rel, Math.sqrt(num / Math.max(den, 1e-30)));
  }
  return { rel, abs };
}
