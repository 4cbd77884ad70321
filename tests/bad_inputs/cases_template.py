"""Bad chat templates: syntax errors, templates that never finish (nested loops, unbounded
recursion) or grow without bound, and templates that raise. Each must be refused within the
time and memory bound, naming where the template came from, whether it renders a `generate
--chat` message or the chat rows of a training set."""

import json
import os

from cases_hf import folder
from corpus import TINY_GGUF, TINY_HF, ZORBLAX_CHAT, read
from gguf import STRING, Gguf

CHATML = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)

BAD = {
    "syntax_error": "{% for message in messages %}{{ message.content }",
    "nested_loops": "{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}",
    "huge_strings": "{% for i in range(1000) %}{{ 'x' * 100000000 }}{% endfor %}",
    "recursion": "{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}",
    "raises": "{{ raise_exception('this model has no system role') }}",
}


def chatml_gguf(template=CHATML):
    """The tiny GGUF with `template` as its tokenizer.chat_template."""
    g = Gguf.read(TINY_GGUF)
    g.set("tokenizer.chat_template", STRING, template)
    return g.to_bytes()


def hf_with(template):
    tc = json.loads(read(os.path.join(TINY_HF, "tokenizer_config.json")))
    tc["chat_template"] = template
    return folder(tokenizer_config_json=json.dumps(tc))


def add(c):
    generate = ["generate", "--model", "{dir}", "--chat", "hi", "--max-tokens", "1"]
    train = ["train", "--dry-run", "--model", "{dir}", "--data", ZORBLAX_CHAT, "--out", "{dir}/out"]
    c.add("template_control_train_chat", train, ok=True, files=hf_with(CHATML))
    for name, template in BAD.items():
        expect = ["tokenizer_config.json", "chat_template"]
        if name == "raises":
            expect.append("this model has no system role")
        c.add(f"template_{name}_generate", generate, expect, hf_with(template))
        if name != "syntax_error":
            c.add(f"template_{name}_train", train, expect, hf_with(template))
    gguf_train = ["train", "--dry-run", "--model", "{dir}/m.gguf", "--data", ZORBLAX_CHAT, "--out", "{dir}/out"]
    for name in ["syntax_error", "nested_loops"]:
        c.add(f"template_gguf_{name}", gguf_train, ["m.gguf", "tokenizer.chat_template"], {"m.gguf": chatml_gguf(BAD[name])})
