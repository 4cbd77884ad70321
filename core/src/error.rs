//! The one error type of anytune-core. Every variant says what was wrong and where
//! (file, tensor, option) so the CLI and the web page can show it as is.

use std::path::PathBuf;

/// Result alias used across the core.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No GPU adapter at all (no Vulkan/Metal/DX12/GL driver, no WebGPU in the browser).
    #[error("no GPU adapter found: {0}. Natively install a Vulkan driver (on Debian/Ubuntu without a GPU: `apt-get install mesa-vulkan-drivers`); in a browser, use one with WebGPU enabled")]
    NoAdapter(String),

    /// The adapter exists but refused to give us a device.
    #[error("could not open the GPU device: {0}")]
    Device(String),

    /// A GPU operation failed (validation, out of memory, lost device, failed map).
    #[error("GPU error: {0}")]
    Gpu(String),

    /// A file could not be read from disk. The OS error is part of the message and not a
    /// `source()`, so error chains (`{:#}`) print it once.
    #[error("{path}: {error}")]
    Io { path: PathBuf, error: std::io::Error },

    /// A model or data file is malformed; `file` names it, `what` says what is wrong.
    #[error("{file}: {what}")]
    Format { file: String, what: String },

    /// A model needs more than the adapter can give.
    #[error("{what} (adapter limit: {limit}). Use a smaller model or a GPU with more memory")]
    TooLarge { what: String, limit: String },

    /// A bad argument or option value.
    #[error("invalid {name}: {what}")]
    Invalid { name: String, what: String },

    /// Tokenizer or chat-template failure.
    #[error("tokenizer: {0}")]
    Tokenizer(String),
}

impl Error {
    /// Shorthand for [`Error::Format`].
    pub fn format(file: impl Into<String>, what: impl Into<String>) -> Self {
        Error::Format { file: file.into(), what: what.into() }
    }

    /// Shorthand for [`Error::Invalid`].
    pub fn invalid(name: impl Into<String>, what: impl Into<String>) -> Self {
        Error::Invalid { name: name.into(), what: what.into() }
    }
}
