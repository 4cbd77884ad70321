"""Bad training input for `anytune train --dry-run` on the tiny model: dataset files, option
values (flags, and `generate`'s sampling flags), and TOML config files. A dry run loads the
model and prepares the data but runs no forward pass, so each case is quick."""

import json

from cases_template import chatml_gguf
from corpus import TINY_GGUF, ZORBLAX, read

TRAIN = ["train", "--dry-run", "--model", TINY_GGUF, "--out", "{dir}/out"]
GOOD_ROWS = read(ZORBLAX).decode("utf-8").splitlines()[:2]


def _line(file, n):
    return f"{file}:{n}|{file} line {n}|{file}, line {n}"


def _jsonl(*rows):
    return "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows)


def add_datasets(c):
    def data(name, file, content, expect, chat=False, extra=(), more=None):
        args = TRAIN + ["--data", "{dir}/" + file] + list(extra)
        files = {file: content, **(more or {})}
        if chat:
            args[args.index(TINY_GGUF)] = "{dir}/m.gguf"
            files["m.gguf"] = chatml_gguf()
        c.add(f"data_{name}", args, expect, files)

    c.add("data_control_chat_rows", TRAIN[:3] + ["{dir}/m.gguf", "--out", "{dir}/out", "--data", "{dir}/d.jsonl"], ok=True,
          files={"m.gguf": chatml_gguf(), "d.jsonl": _jsonl({"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]})})
    data("empty", "d.jsonl", "", ["d.jsonl", "empty|no rows|no examples|no training"])
    data("blank_txt", "d.txt", "\n\n   \n", ["d.txt", "empty|no rows|no examples|no text"])
    data("bad_json_line_3", "d.jsonl", _jsonl(*GOOD_ROWS, "{not json", GOOD_ROWS[0]), [_line("d.jsonl", 3)])
    data("parquet", "d.parquet", b"PAR1\x00\x01\x02PAR1", ["d.parquet", "format|extension|.jsonl|not supported"])
    data("csv_unclosed_quote", "d.csv", 'prompt,completion\na,b\n"unclosed,c\nd,e\n', ["d.csv", "quote"])
    data("csv_unknown_columns", "d.csv", "a,b\n1,2\n", ["d.csv", "text|prompt"])
    data("missing_completion", "d.jsonl", _jsonl(GOOD_ROWS[0], {"prompt": "Question: x\nAnswer:"}), [_line("d.jsonl", 2), "completion"])
    data("unknown_fields", "d.jsonl", _jsonl({"foo": 1}), [_line("d.jsonl", 1), "text|prompt|messages"])
    data("prompt_not_string", "d.jsonl", _jsonl({"prompt": 1, "completion": " x"}), [_line("d.jsonl", 1), "prompt"])
    data("text_not_string", "d.jsonl", _jsonl({"text": ["a", "b"]}), [_line("d.jsonl", 1), "text"])
    data("row_null", "d.jsonl", _jsonl(GOOD_ROWS[0], "null"), [_line("d.jsonl", 2)])
    data("alpaca_missing_output", "d.jsonl", _jsonl({"instruction": "Say hi"}), [_line("d.jsonl", 1), "output"])
    data("messages_not_a_list", "d.jsonl", _jsonl({"messages": "hi"}), [_line("d.jsonl", 1), "messages"], chat=True)
    data("messages_empty", "d.jsonl", _jsonl({"messages": []}), [_line("d.jsonl", 1), "messages"], chat=True)
    data("messages_unknown_role", "d.jsonl", _jsonl({"messages": [{"role": "wizard", "content": "x"}, {"role": "assistant", "content": "y"}]}),
         [_line("d.jsonl", 1), "wizard"], chat=True)
    data("messages_content_number", "d.jsonl", _jsonl({"messages": [{"role": "user", "content": 5}, {"role": "assistant", "content": "y"}]}),
         [_line("d.jsonl", 1), "content"], chat=True)
    long_rows = [{"prompt": "Question: " + "zorblax kettle " * 40 + "\nAnswer:", "completion": " teal."} for _ in range(3)]
    data("all_prompts_too_long", "d.jsonl", _jsonl(*long_rows), ["d.jsonl", "max-seq-len|max_seq_len"], extra=["--max-seq-len", "16"])
    data("binary_garbage", "d.jsonl", bytes(range(256)) * 64, ["d.jsonl", "UTF-8|utf-8|:1|line 1"])
    data("row_50mb_then_bad_line", "d.jsonl", _jsonl({"text": "kettle " * 7_500_000}, "{oops"), [_line("d.jsonl", 2)])
    data("val_file_bad_line", "d.jsonl", _jsonl(*GOOD_ROWS), [_line("v.jsonl", 1)], extra=["--val-file", "{dir}/v.jsonl"],
         more={"v.jsonl": "{\n"})
    c.add("data_missing_file", TRAIN + ["--data", "{dir}/missing.jsonl"], ["missing.jsonl"])


# (case name, flags, what the message must name)
OPTIONS = [
    ("lr_nan", ["--lr=NaN"], "lr"),
    ("lr_inf", ["--lr=inf"], "lr"),
    ("lr_negative", ["--lr=-1"], "lr"),
    ("lr_1e308", ["--lr=1e308"], "lr"),
    ("lr_0", ["--lr=0"], "lr"),
    ("alpha_nan", ["--alpha=NaN"], "alpha"),
    ("alpha_inf", ["--alpha=inf"], "alpha"),
    ("lora_dropout_nan", ["--lora-dropout=NaN"], "lora-dropout|lora_dropout"),
    ("lora_dropout_1", ["--lora-dropout=1"], "lora-dropout|lora_dropout"),
    ("lora_dropout_negative", ["--lora-dropout=-0.1"], "lora-dropout|lora_dropout"),
    ("val_split_nan", ["--val-split=NaN"], "val-split|val_split"),
    ("val_split_1_5", ["--val-split=1.5"], "val-split|val_split"),
    ("momentum_5", ["--optimizer=sgd", "--momentum=5"], "momentum"),
    ("momentum_nan", ["--optimizer=sgd", "--momentum=NaN"], "momentum"),
    ("max_grad_norm_negative", ["--max-grad-norm=-1"], "max-grad-norm|max_grad_norm"),
    ("max_grad_norm_nan", ["--max-grad-norm=NaN"], "max-grad-norm|max_grad_norm"),
    ("weight_decay_negative", ["--weight-decay=-1"], "weight-decay|weight_decay"),
    ("weight_decay_nan", ["--weight-decay=NaN"], "weight-decay|weight_decay"),
    ("rank_0", ["--rank=0"], "rank"),
    ("rank_100000", ["--rank=100000"], "rank"),
    ("rank_2p62", [f"--rank={1 << 62}"], "rank"),
    ("layers_u64_max", ["--layers=0-18446744073709551615"], "layers"),
    ("layers_4e9", ["--layers=0-4000000000"], "layers"),
    ("layers_99", ["--layers=99"], "layers"),
    ("layers_reversed", ["--layers=1-0"], "layers"),
    ("batch_0", ["--batch=0"], "batch"),
    ("batch_2p40", [f"--batch={1 << 40}"], "batch"),
    ("grad_accum_0", ["--grad-accum=0"], "grad-accum|grad_accum"),
    ("max_seq_len_0", ["--max-seq-len=0"], "max-seq-len|max_seq_len"),
    ("max_seq_len_2p60", [f"--max-seq-len={1 << 60}"], "max-seq-len|max_seq_len"),
    ("targets_foo", ["--targets=foo"], "targets|foo"),
    ("schedule_foo", ["--schedule=foo"], "schedule"),
    ("optimizer_foo", ["--optimizer=foo"], "optimizer"),
]

GENERATE_OPTIONS = [
    ("temperature_nan", ["--temperature=NaN"], "temperature"),
    ("temperature_negative", ["--temperature=-1"], "temperature"),
    ("top_p_nan", ["--top-p=NaN"], "top-p|top_p"),
    ("top_p_0", ["--top-p=0"], "top-p|top_p"),
    ("top_p_2", ["--top-p=2"], "top-p|top_p"),
]


def add_options(c):
    train = TRAIN + ["--data", ZORBLAX]
    c.add("option_control_train", train, ok=True)
    for name, flags, field in OPTIONS:
        c.add(f"option_{name}", train + flags, [field])
    generate = ["generate", "--model", TINY_GGUF, "--prompt", "hi", "--max-tokens", "1"]
    for name, flags, field in GENERATE_OPTIONS:
        c.add(f"option_generate_{name}", generate + flags, [field])


TOML = [
    ("lr_nan", "lr = nan\n", "lr"),
    ("lr_inf", "lr = inf\n", "lr"),
    ("lr_negative_inf", "lr = -inf\n", "lr"),
    ("lr_string", 'lr = "x"\n', "lr"),
    ("unknown_key", "lrr = 0.001\n", "lrr"),
    ("rank_negative", "rank = -1\n", "rank"),
    ("rank_array", "rank = [1, 2]\n", "rank"),
    ("lr_table", "[lr]\nvalue = 0.001\n", "lr"),
    ("batch_float", "batch = 1e10\n", "batch"),
    ("steps_negative", "steps = -5\n", "steps"),
    ("val_split_2", "val_split = 2.0\n", "val_split"),
    ("lora_dropout_nan", "lora_dropout = nan\n", "lora_dropout"),
    ("max_seq_len_0", "max_seq_len = 0\n", "max_seq_len"),
    ("targets_foo", 'targets = "foo"\n', "targets|foo"),
    ("layers_huge", 'layers = "0-99999999999999999999"\n', "layers"),
    ("data_not_a_path", "data = 5\n", "data must|data =|`data`|key data|data: "),
    ("duplicate_key", "lr = 0.001\nlr = 0.002\n", "lr"),
    ("syntax_error_line_3", "batch = 4\nrank = 8\nlr = = 0.001\n", "line 3|:3:"),
]


def add_toml(c):
    args = ["train", "--config", "{dir}/run.toml", "--dry-run", "--model", TINY_GGUF, "--data", ZORBLAX, "--out", "{dir}/out"]
    c.add("toml_control", args, ok=True, files={"run.toml": "lr = 0.001\nrank = 4\nbatch = 2\n"})
    for name, text, field in TOML:
        c.add(f"toml_{name}", args, ["run.toml", field], {"run.toml": text})
    c.add("toml_binary_garbage", args, ["run.toml"], {"run.toml": bytes(range(256))})
    c.add("toml_missing_file", ["train", "--config", "{dir}/nope.toml", "--dry-run", "--model", TINY_GGUF, "--data", ZORBLAX, "--out", "{dir}/out"], ["nope.toml"])
