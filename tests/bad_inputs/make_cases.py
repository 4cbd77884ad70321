#!/usr/bin/env python3
"""Writes the bad-input corpus: `make_cases.py OUT_DIR` makes OUT_DIR/<case>/ (each case's
files, mutations of the tiny fixtures) and OUT_DIR/cases.json, the list
`[{name, args, expect, ok}]` that tests/tests/bad_inputs_corpus.rs runs. Python 3 standard
library only. See README.md."""

import sys

sys.dont_write_bytecode = True  # no __pycache__ next to the sources

import cases_adapters  # noqa: E402
import cases_gguf  # noqa: E402
import cases_hf  # noqa: E402
import cases_template  # noqa: E402
import cases_train  # noqa: E402
from corpus import Corpus  # noqa: E402


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: make_cases.py OUT_DIR")
    c = Corpus(sys.argv[1])
    cases_gguf.add(c)
    cases_hf.add_safetensors(c)
    cases_hf.add_config(c)
    cases_hf.add_tokenizer(c)
    cases_template.add(c)
    cases_adapters.add_peft(c)
    cases_adapters.add_gguf(c)
    cases_train.add_datasets(c)
    cases_train.add_options(c)
    cases_train.add_toml(c)
    c.write_index()
    bad = sum(not case["ok"] for case in c.cases)
    print(f"{len(c.cases)} cases ({bad} bad, {len(c.cases) - bad} controls) in {c.out}")


if __name__ == "__main__":
    main()
