"""The case list being built: each case is a folder of files and one `anytune` command line.

A case's `args` may use `{dir}` for its own folder (the Rust test substitutes it, so the list
stays readable); fixture paths are absolute. `expect` lists substrings the error output must
contain, each with `|` between accepted alternatives (`"truncated|beyond the end"`). A case
with `ok=True` is a control: the unmutated base of a group, which must succeed (it shows the
writers below produce valid files, so the bad cases fail for the mutation, not for the writer).
"""

import json
import os
import shutil

HERE = os.path.dirname(os.path.abspath(__file__))
TESTS = os.path.dirname(HERE)
FIXTURES = os.path.join(TESTS, "fixtures")
DATA = os.path.join(TESTS, "data")
TINY_GGUF = os.path.join(FIXTURES, "tiny-llama-F32.gguf")
TINY_Q4_1 = os.path.join(FIXTURES, "tiny-llama-Q4_1.gguf")
TINY_HF = os.path.join(FIXTURES, "tiny-llama")
ZORBLAX = os.path.join(DATA, "zorblax.jsonl")
ZORBLAX_CHAT = os.path.join(DATA, "zorblax_chat.jsonl")


def read(path):
    with open(path, "rb") as f:
        return f.read()


class Corpus:
    def __init__(self, out_dir):
        self.out = os.path.abspath(out_dir)
        self.cases = []
        if os.path.isdir(self.out) and os.listdir(self.out):
            if not os.path.exists(os.path.join(self.out, "cases.json")):
                raise SystemExit(f"{self.out} is not empty and holds no cases.json: not replacing it")
            shutil.rmtree(self.out)
        os.makedirs(self.out)

    def path(self, name, rel=""):
        """The absolute path of `rel` inside case `name`'s folder."""
        return os.path.join(self.out, name, rel)

    def add(self, name, args, expect=(), files=None, ok=False):
        """Writes `files` ({relative path: bytes or str}) into the case folder and records it."""
        assert name not in {c["name"] for c in self.cases}, f"duplicate case {name}"
        assert ok or expect, f"{name}: a bad case must expect something"
        os.makedirs(self.path(name), exist_ok=True)
        for rel, content in (files or {}).items():
            p = self.path(name, rel)
            os.makedirs(os.path.dirname(p), exist_ok=True)
            with open(p, "wb") as f:
                f.write(content.encode("utf-8") if isinstance(content, str) else content)
        self.cases.append({"name": name, "args": list(args), "expect": list(expect), "ok": ok})

    def write_index(self):
        with open(os.path.join(self.out, "cases.json"), "w") as f:
            json.dump(self.cases, f, indent=1)
