//! The sequence-classification head (issue #13 item 4, `--head`; transformers'
//! `LlamaForSequenceClassification`, PEFT `task_type: "SEQ_CLS"`): after the final norm the
//! hidden state of each row's last token goes through `score` (num_labels × dim, no bias),
//! and the loss is the cross-entropy of those logits with the label index (labels sorted, as
//! in labels.json). The lm head is not used.
//!
//! So far: the CPU reference of the head's forward and backward ([`reference`]), the GPU
//! last-token pooling and its backward ([`last_token`]), the whole head on the GPU ([`step`])
//! and the PEFT SEQ_CLS names and label maps ([`seqcls`]); the trainer wiring is to come.

pub mod last_token;
pub mod reference;
pub mod seqcls;
pub mod step;
