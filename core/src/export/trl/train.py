"""Continue an anytune fine-tune with TRL's SFTTrainer and a PEFT LoRA.

Written by `anytune export --recipe trl`: RECIPE below holds the run's options as SFTConfig and
LoraConfig arguments (see README.md for where each option went). train.jsonl holds anytune's
prepared rows: `input_ids` and `completion_mask` (1 = trained), so the loss is on the same tokens.

    python train.py --cpu --max-steps 2                        # a smoke test
    accelerate launch --config_file accelerate_config.yaml train.py --bf16
    accelerate launch --config_file accelerate_config.yaml train.py --resume-from-adapter adapter
"""

import argparse
import json
import os

RECIPE = None  # written by anytune

HERE = os.path.dirname(os.path.abspath(__file__))


class JsonLog:
    """Writes every log record of the Trainer (loss, learning rate, grad norm) as a JSON line."""

    def __init__(self, path):
        self.path = path
        open(path, "w").close()

    def callback(self):
        from transformers import TrainerCallback

        path = self.path

        class _Log(TrainerCallback):
            def on_log(self, args, state, control, logs=None, **kwargs):
                if state.is_world_process_zero and logs:
                    with open(path, "a") as f:
                        f.write(json.dumps({"step": state.global_step, **logs}) + "\n")

        return _Log()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=RECIPE["model"], help="base model: a Hugging Face id or folder [%(default)s]")
    p.add_argument("--resume-from-adapter", metavar="DIR", help="start from this PEFT adapter (anytune's run folder)")
    p.add_argument("--output-dir", default="trl-out", help="checkpoints and the final adapter [%(default)s]")
    p.add_argument("--max-steps", type=int, help="stop after this many steps (overrides the recipe)")
    p.add_argument("--gradient-accumulation-steps", type=int, help="overrides the recipe (divide by the GPU count to keep the effective batch)")
    p.add_argument("--bf16", action="store_true", help="bf16 weights and autocast (GPUs); default float32")
    p.add_argument("--cpu", action="store_true", help="train on the CPU")
    p.add_argument("--log-file", help="write each log record (loss, learning_rate, grad_norm) as a JSON line")
    args = p.parse_args()

    import torch
    from datasets import load_dataset
    from peft import LoraConfig, PeftModel, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer, EarlyStoppingCallback
    from trl import SFTConfig, SFTTrainer

    files = {"train": os.path.join(HERE, "train.jsonl")}
    if RECIPE["validation"]:
        files["validation"] = os.path.join(HERE, "validation.jsonl")
    # The readable prompt/completion/text columns are for people; the trainer takes the ids and mask.
    data = load_dataset("json", data_files=files).select_columns(["input_ids", "completion_mask"])

    tokenizer = AutoTokenizer.from_pretrained(args.model)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token  # padding is never trained (labels -100)
    dtype = torch.bfloat16 if args.bf16 else torch.float32
    model = AutoModelForCausalLM.from_pretrained(args.model, dtype=dtype)
    if args.resume_from_adapter:
        model = PeftModel.from_pretrained(model, args.resume_from_adapter, is_trainable=True)
    else:
        model = get_peft_model(model, LoraConfig(task_type="CAUSAL_LM", **RECIPE["lora"]))
    model.print_trainable_parameters()

    sft = dict(RECIPE["sft"])
    if args.max_steps is not None:
        sft["max_steps"] = args.max_steps
    if args.gradient_accumulation_steps is not None:
        sft["gradient_accumulation_steps"] = args.gradient_accumulation_steps
    config = SFTConfig(
        output_dir=args.output_dir, use_cpu=args.cpu, bf16=args.bf16, logging_steps=1, report_to="none", **sft
    )
    callbacks = []
    if RECIPE["early_stopping_patience"]:
        callbacks.append(EarlyStoppingCallback(early_stopping_patience=RECIPE["early_stopping_patience"]))
    if args.log_file:
        callbacks.append(JsonLog(args.log_file).callback())
    trainer = SFTTrainer(
        model=model,
        args=config,
        train_dataset=data["train"],
        eval_dataset=data["validation"] if RECIPE["validation"] else None,
        processing_class=tokenizer,
        callbacks=callbacks,
    )
    trainer.train()
    if RECIPE["validation"]:
        print(trainer.evaluate())
    trainer.save_model(args.output_dir)


if __name__ == "__main__":
    main()
