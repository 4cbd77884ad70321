//! `anytune export --recipe trl`: what a user needs to continue the same fine-tune on a cluster
//! with existing tools — the prepared rows (`train.jsonl`, `validation.jsonl`: [`rows`]), a TRL
//! `SFTTrainer` + PEFT `LoraConfig` script carrying the run's options (`train.py`:
//! [`settings`]), an `accelerate` config for multi-GPU data parallel, pinned requirements and a
//! README of the commands and of where each option went.
//!
//! The rows are written tokenized, with anytune's loss mask as `completion_mask`, and TRL trains
//! on them as they are (`completion_only_loss`): the same tokens, chat template, truncation,
//! packing and masks as anytune, whatever the model's chat template (TRL's own
//! `assistant_only_loss` needs a template with `{% generation %}` markers, which most lack).
//! Like the rest of `export`, no filesystem: the files come back as `(name, bytes)`.

pub mod python;
pub mod rows;
pub mod settings;

pub use settings::{Carried, Note};

use super::ExportedFile;
use crate::data::Dataset;
use crate::error::Result;
use crate::tokenizer::Tokenizer;
use crate::train::RunOptions;
use serde_json::json;

/// What the recipe is made from.
pub struct TrlInput<'a> {
    /// The run's options (as trained: a run folder's options.toml, or the train options).
    pub options: &'a RunOptions,
    /// The base model for `from_pretrained`: its Hugging Face id, or a local folder.
    pub base: &'a str,
    /// `base` is something `from_pretrained` loads (an id or an HF folder, not a GGUF file).
    pub base_loads: bool,
    /// The quantized types of the base anytune trained on (`["Q4_1"]`); empty for a float base.
    pub base_quantized: Vec<String>,
    /// The rows prepared as anytune trains on them (with `options`).
    pub dataset: &'a Dataset,
    pub tokenizer: &'a Tokenizer,
    /// Blocks of the model (to list `layers_to_transform`).
    pub n_layers: usize,
    /// The caller writes anytune's adapter into `adapter/` (the README then shows
    /// `--resume-from-adapter adapter`).
    pub with_adapter: bool,
}

/// The recipe's files and what it could not reproduce.
pub struct Recipe {
    pub files: Vec<ExportedFile>,
    /// Where each option went.
    pub carried: Vec<Carried>,
    /// Options TRL does not reproduce exactly (also in the README).
    pub notes: Vec<Note>,
}

/// Writes the recipe of `input`.
pub fn trl_recipe(input: &TrlInput) -> Result<Recipe> {
    let validation = !input.dataset.val.is_empty();
    let mut s = settings::settings(input.options, input.n_layers, validation)?;
    if !input.base_loads {
        s.notes.insert(0, Note {
            option: "model",
            what: format!(
                "{} is a GGUF file that names no Hugging Face model; pass train.py --model with the Hugging Face id or folder of the same model",
                input.base
            ),
        });
    }
    if !input.base_quantized.is_empty() && input.base_loads {
        s.notes.insert(0, Note {
            option: "model",
            what: format!(
                "anytune trained on a {} base; train.py loads {}'s own weights, so losses differ by the quantization's error \
                 (the adapter fits both)",
                input.base_quantized.join("/"),
                input.base
            ),
        });
    }
    let readable = rows::readable_of(&input.dataset.train);
    let mut files = vec![("train.jsonl".to_string(), rows::jsonl(&input.dataset.train, readable, input.tokenizer)?.into_bytes())];
    if validation {
        files.push(("validation.jsonl".to_string(), rows::jsonl(&input.dataset.val, readable, input.tokenizer)?.into_bytes()));
    }
    let recipe = json!({
        "model": input.base,
        "validation": validation,
        "lora": s.lora,
        "sft": s.sft,
        "early_stopping_patience": s.patience,
    });
    let script = include_str!("train.py").replacen("RECIPE = None  # written by anytune", &format!("RECIPE = {}", python::literal(&recipe, 0)), 1);
    files.push(("train.py".to_string(), script.into_bytes()));
    files.push(("accelerate_config.yaml".to_string(), include_bytes!("accelerate_config.yaml").to_vec()));
    files.push(("requirements.txt".to_string(), include_bytes!("requirements.txt").to_vec()));
    files.push(("README.md".to_string(), readme(input, &s, readable == rows::Readable::PromptCompletion).into_bytes()));
    Ok(Recipe { files, carried: s.carried, notes: s.notes })
}

/// The recipe's README: the commands, the data, where each option went, what differs.
fn readme(input: &TrlInput, s: &settings::Settings, prompt_completion: bool) -> String {
    let d = &input.dataset.summary;
    let resume = if input.with_adapter { " --resume-from-adapter adapter" } else { "" };
    let mut out = format!(
        "# Continue this anytune fine-tune with TRL\n\n\
         Written by `anytune export --recipe trl` from {} ({}) for `{}`.\n\n\
         ```sh\npip install -r requirements.txt\n\
         python train.py --cpu --max-steps 2{resume}          # a smoke test on the CPU\n\
         accelerate launch --config_file accelerate_config.yaml train.py --bf16{resume}\n```\n\n\
         Set `num_processes` in accelerate_config.yaml to the number of GPUs (or pass `--num_processes N`). Each GPU \
         takes `per_device_train_batch_size` rows per micro-batch, so N GPUs step on N times the rows of one; \
         pass `--gradient-accumulation-steps` divided by N to keep this run's effective batch. The adapter is saved \
         in `--output-dir` (default `trl-out/`) as PEFT files that `anytune score --adapter` and `anytune export` read.\n",
        d.file,
        d.format.name(),
        input.base
    );
    if input.with_adapter {
        out.push_str("\n`adapter/` is anytune's trained adapter; `--resume-from-adapter adapter` continues from it (leave it out to start afresh).\n");
    }
    out.push_str(&format!(
        "\n## The data\n\n`train.jsonl` ({} rows{}): anytune's prepared sequences, one a line: `input_ids` (the tokens, chat \
         template and special tokens included) and `completion_mask` (1 = the token is trained), read by TRL as an \
         already tokenized dataset with `completion_only_loss=True`, so the loss is on exactly the tokens anytune trains; \
         `{}` is a readable copy (decoded) that train.py does not use.\n",
        d.train_sequences,
        if d.val_sequences > 0 { format!("; `validation.jsonl`, {} rows", d.val_sequences) } else { String::new() },
        if prompt_completion { "prompt` / `completion" } else { "text" }
    ));
    out.push_str("\n## Where each option went\n\n| option | value | in train.py |\n|---|---|---|\n");
    for c in &s.carried {
        out.push_str(&format!("| {} | {} | {} |\n", c.option, c.value, c.setting));
    }
    out.push_str("\n## What TRL does not reproduce exactly\n\n");
    for n in &s.notes {
        out.push_str(&format!("- **{}**: {}\n", n.option, n.what));
    }
    out
}
