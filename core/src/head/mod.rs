//! The sequence-classification head (issue #13 item 4, `--head`; transformers'
//! `LlamaForSequenceClassification`, PEFT `task_type: "SEQ_CLS"`): after the final norm the
//! hidden state of each row's last token goes through `score` (num_labels × dim, no bias),
//! and the loss is the cross-entropy of those logits with the label index (labels sorted, as
//! in labels.json). The lm head is not used.
//!
//! The CPU reference of the head's forward and backward ([`reference`]), the GPU last-token
//! pooling and its backward ([`last_token`]), the whole head on the GPU ([`step`]), one
//! training step, model + LoRA + head ([`train_step`]), the PEFT SEQ_CLS names and label maps
//! ([`seqcls`]) and files ([`seqcls_files`]); the trainer's side: the head's rows and batch
//! targets ([`data`]) and its weight, moments, step and validation ([`state`]).

pub mod data;
pub mod last_token;
pub mod reference;
pub mod seqcls;
pub mod seqcls_files;
pub mod state;
pub mod step;
pub mod train_step;
