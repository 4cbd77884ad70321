// The run kept in the browser's origin-private file system (OPFS), so a reload can resume it:
// run.json (model, dataset name, options, step/total, loss history), dataset.bin (the dataset's bytes) and
// checkpoint.safetensors (core's checkpoint: adapter, optimizer state, step, data position).
// Each file is written through createWritable, which replaces the file only on close(): a tab
// closed mid-write leaves the previous version.

const DIR = "anytune-run";

async function dir() {
  const root = await navigator.storage.getDirectory();
  return root.getDirectoryHandle(DIR, { create: true });
}

async function write(name, data) {
  const handle = await (await dir()).getFileHandle(name, { create: true });
  const w = await handle.createWritable();
  await w.write(data);
  await w.close();
}

async function read(name) {
  try {
    const handle = await (await dir()).getFileHandle(name);
    return new Uint8Array(await (await handle.getFile()).arrayBuffer());
  } catch {
    return undefined;
  }
}

/// The saved run's description, or null.
export async function loadMeta() {
  const bytes = await read("run.json");
  return bytes ? JSON.parse(new TextDecoder().decode(bytes)) : null;
}

/// Starts a new saved run (dropping the previous one's checkpoint).
export async function saveRun({ model, dataset, options }) {
  await clear();
  await write("dataset.bin", dataset.bytes);
  await write("run.json", JSON.stringify({ model, dataset: { name: dataset.name }, options, step: 0, total: null }));
}

/// Writes the checkpoint and, in run.json, its step, the total and the loss `history`
/// ({train, val} of [step, loss]) for the chart of a run opened again.
export async function saveCheckpoint(bytes, { step, total, history }) {
  await write("checkpoint.safetensors", bytes);
  const meta = await loadMeta();
  if (meta) await write("run.json", JSON.stringify({ ...meta, step, total, history, saved: new Date().toISOString() }));
}

export async function loadCheckpoint() {
  return read("checkpoint.safetensors");
}

export async function loadDataset() {
  const meta = await loadMeta();
  return meta && { name: meta.dataset.name, bytes: await read("dataset.bin") };
}

export async function clear() {
  const root = await navigator.storage.getDirectory();
  await root.removeEntry(DIR, { recursive: true }).catch(() => {});
}
