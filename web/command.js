// The run as `anytune train` takes it: the command line and the `run.toml` its --config reads
// (native/src/train_options.rs), from the planned options. Only options that differ from core's
// defaults (the schema's) are written, so the native run plans the same options.
//
//   commandLine({ lr: 0.01, steps: 8, ... }, schema, { model: "smollm2-135m", data: "d.jsonl", out: "adapter" })
//   → "anytune train --model smollm2-135m --data d.jsonl --out adapter --steps 8 --lr 0.01"

/// [name, value, spec] of each option of `options` that differs from its schema default.
function changed(options, schema) {
  return schema
    .filter((o) => o.name in options && JSON.stringify(options[o.name]) !== JSON.stringify(o.default))
    .map((o) => [o.name, options[o.name], o]);
}

/// A shell word: quoted when it holds anything but plain characters.
const word = (s) => (/^[\w.,/+:=@-]+$/.test(s) ? s : `'${s.replaceAll("'", "'\\''")}'`);

/** The equivalent `anytune train …` line. */
export function commandLine(options, schema, files) {
  const parts = ["anytune", "train", "--model", files.model, "--data", files.data, "--out", files.out];
  for (const [, value, o] of changed(options, schema)) {
    if (o.kind === "flag") {
      if (value) parts.push(o.flag);
    } else {
      parts.push(o.flag, String(value));
    }
  }
  return parts.map(word).join(" ");
}

/** The same run as a TOML config file (`anytune train --config run.toml`). */
export function runToml(options, schema, files) {
  const lines = ["# anytune train --config run.toml (written by the anytune page)"];
  for (const key of ["model", "data", "out"]) lines.push(`${key} = ${JSON.stringify(files[key])}`);
  for (const [name, value] of changed(options, schema)) {
    if (value === null) continue;
    lines.push(`${name} = ${typeof value === "string" ? JSON.stringify(value) : String(value)}`);
  }
  return lines.join("\n") + "\n";
}
