#!/usr/bin/env python3
"""Builds the GGUF fixtures: benign look-alikes of real llama.cpp models and inert malicious files.

Benign files are written by the `gguf` package (llama.cpp's own writer) with realistic metadata and
the chat templates of real model families. Malicious files are:

* SSTI chat templates (the payloads only `echo aisec-fixture` or read /etc/hostname). These are
  detected by the Jinja analyser (`formats::jinja`), which the GGUF analyser hands every template to.
* structural attacks on loaders (absurd counts and lengths, bad shapes and types, tensors outside
  the file, overlaps, duplicates), written byte by byte with `Raw` below.

Usage:
    python3 -m venv /work/venv-gguf && /work/venv-gguf/bin/pip install -r requirements.txt
    /work/venv-gguf/bin/python gen_fixtures.py              # writes benign/, malicious/, MANIFEST.tsv
    /work/venv-gguf/bin/python gen_fixtures.py --perf OUT   # writes a ~1 GiB GGUF for benchmarks (not committed)
"""

from __future__ import annotations

import argparse
import io
import os
import zipfile
import struct
import sys
from pathlib import Path

import numpy as np
import gguf
from gguf import GGMLQuantizationType as Q
from gguf import GGUFValueType as V

HERE = Path(__file__).resolve().parent
ROWS: list[tuple[str, str, str, str]] = []

# ----- real chat templates (text as shipped in the models' tokenizer_config.json) ----------------

LLAMA2 = (
    "{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}{% set system_message = "
    "messages[0]['content'] %}{% else %}{% set loop_messages = messages %}{% set system_message = false %}"
    "{% endif %}{% for message in loop_messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}"
    "{% if loop.index0 == 0 and system_message != false %}{% set content = '<<SYS>>\\n' + system_message + "
    "'\\n<</SYS>>\\n\\n' + message['content'] %}{% else %}{% set content = message['content'] %}{% endif %}"
    "{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}"
    "{% elif message['role'] == 'assistant' %}{{ ' '  + content.strip() + ' ' + eos_token }}{% endif %}{% endfor %}"
)

LLAMA3 = (
    "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + "
    "message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}"
    "{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}"
    "{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}"
)

LLAMA31 = """{{- bos_token }}
{%- if custom_tools is defined %}
    {%- set tools = custom_tools %}
{%- endif %}
{%- if not tools_in_user_message is defined %}
    {%- set tools_in_user_message = true %}
{%- endif %}
{%- if not date_string is defined %}
    {%- set date_string = "26 Jul 2024" %}
{%- endif %}
{%- if not tools is defined %}
    {%- set tools = none %}
{%- endif %}

{#- This block extracts the system message, so we can slot it into the right place. #}
{%- if messages[0]['role'] == 'system' %}
    {%- set system_message = messages[0]['content']|trim %}
    {%- set messages = messages[1:] %}
{%- else %}
    {%- set system_message = "" %}
{%- endif %}

{#- System message + builtin tools #}
{{- "<|start_header_id|>system<|end_header_id|>\\n\\n" }}
{%- if builtin_tools is defined or tools is not none %}
    {{- "Environment: ipython\\n" }}
{%- endif %}
{%- if builtin_tools is defined %}
    {{- "Tools: " + builtin_tools | reject('equalto', 'code_interpreter') | join(", ") + "\\n\\n"}}
{%- endif %}
{{- "Cutting Knowledge Date: December 2023\\n" }}
{{- "Today Date: " + date_string + "\\n\\n" }}
{%- if tools is not none and not tools_in_user_message %}
    {{- "You have access to the following functions. To call a function, please respond with JSON for a function call." }}
    {{- 'Respond in the format {"name": function name, "parameters": dictionary of argument name and its value}.' }}
    {{- "Do not use variables.\\n\\n" }}
    {%- for t in tools %}
        {{- t | tojson(indent=4) }}
        {{- "\\n\\n" }}
    {%- endfor %}
{%- endif %}
{{- system_message }}
{{- "<|eot_id|>" }}

{#- Custom tools are passed in a user message with some extra guidance #}
{%- if tools_in_user_message and not tools is none %}
    {#- Extract the first user message so we can plug it in here #}
    {%- if messages | length != 0 %}
        {%- set first_user_message = messages[0]['content']|trim %}
        {%- set messages = messages[1:] %}
    {%- else %}
        {{- raise_exception("Cannot put tools in the first user message when there's no first user message!") }}
{%- endif %}
    {{- '<|start_header_id|>user<|end_header_id|>\\n\\n' -}}
    {{- "Given the following functions, please respond with a JSON for a function call " }}
    {{- "with its proper arguments that best answers the given prompt.\\n\\n" }}
    {{- 'Respond in the format {"name": function name, "parameters": dictionary of argument name and its value}.' }}
    {{- "Do not use variables.\\n\\n" }}
    {%- for t in tools %}
        {{- t | tojson(indent=4) }}
        {{- "\\n\\n" }}
    {%- endfor %}
    {{- first_user_message + "<|eot_id|>"}}
{%- endif %}

{%- for message in messages %}
    {%- if not (message.role == 'ipython' or message.role == 'tool' or 'tool_calls' in message) %}
        {{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'+ message['content'] | trim + '<|eot_id|>' }}
    {%- elif 'tool_calls' in message %}
        {%- if not message.tool_calls|length == 1 %}
            {{- raise_exception("This model only supports single tool-calls at once!") }}
        {%- endif %}
        {%- set tool_call = message.tool_calls[0].function %}
        {%- if builtin_tools is defined and tool_call.name in builtin_tools %}
            {{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' -}}
            {{- "<|python_tag|>" + tool_call.name + ".call(" }}
            {%- for arg_name, arg_val in tool_call.arguments | items %}
                {{- arg_name + '="' + arg_val + '"' }}
                {%- if not loop.last %}
                    {{- ", " }}
                {%- endif %}
                {%- endfor %}
            {{- ")" }}
        {%- else  %}
            {{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' -}}
            {{- '{"name": "' + tool_call.name + '", ' }}
            {{- '"parameters": ' }}
            {{- tool_call.arguments | tojson }}
            {{- "}" }}
        {%- endif %}
        {%- if builtin_tools is defined %}
            {#- This means we're in ipython mode #}
            {{- "<|eom_id|>" }}
        {%- else %}
            {{- "<|eot_id|>" }}
        {%- endif %}
    {%- elif message.role == "tool" or message.role == "ipython" %}
        {{- "<|start_header_id|>ipython<|end_header_id|>\\n\\n" }}
        {%- if message.content is mapping or message.content is iterable %}
            {{- message.content | tojson }}
        {%- else %}
            {{- message.content }}
        {%- endif %}
        {{- "<|eot_id|>" }}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}
{%- endif %}
"""

MISTRAL = (
    "{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}"
    "{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}"
    "{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token}}"
    "{% else %}{{ raise_exception('Only user and assistant roles are supported!') }}{% endif %}{% endfor %}"
)

CHATML = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + "
    "'\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

GEMMA = (
    "{{ bos_token }}{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}"
    "{% endif %}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}"
    "{% if (message['role'] == 'assistant') %}{% set role = 'model' %}{% else %}{% set role = message['role'] %}"
    "{% endif %}{{ '<start_of_turn>' + role + '\n' + message['content'] | trim + '<end_of_turn>\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{'<start_of_turn>model\n'}}{% endif %}"
)

PHI3 = (
    "{% for message in messages %}{% if message['role'] == 'system' %}{{'<|system|>\n' + message['content'] + "
    "'<|end|>\n'}}{% elif message['role'] == 'user' %}{{'<|user|>\n' + message['content'] + '<|end|>\n'}}"
    "{% elif message['role'] == 'assistant' %}{{'<|assistant|>\n' + message['content'] + '<|end|>\n'}}{% endif %}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|assistant|>\n' }}{% else %}{{ eos_token }}{% endif %}"
)

QWEN2 = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + "
    "message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}"
    "{{ '<|im_start|>assistant\n' }}{% endif %}"
)

QWEN25 = """{%- if tools %}
    {{- '<|im_start|>system\\n' }}
    {%- if messages[0]['role'] == 'system' %}
        {{- messages[0]['content'] }}
    {%- else %}
        {{- 'You are Qwen, created by Alibaba Cloud. You are a helpful assistant.' }}
    {%- endif %}
    {{- "\\n\\n# Tools\\n\\nYou may call one or more functions to assist with the user query.\\n\\nYou are provided with function signatures within <tools></tools> XML tags:\\n<tools>" }}
    {%- for tool in tools %}
        {{- "\\n" }}
        {{- tool | tojson }}
    {%- endfor %}
    {{- "\\n</tools>\\n\\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\\n<tool_call>\\n{\\"name\\": <function-name>, \\"arguments\\": <args-json-object>}\\n</tool_call><|im_end|>\\n" }}
{%- else %}
    {%- if messages[0]['role'] == 'system' %}
        {{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}
    {%- else %}
        {{- '<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\\n' }}
    {%- endif %}
{%- endif %}
{%- for message in messages %}
    {%- if (message.role == "user") or (message.role == "system" and not loop.first) or (message.role == "assistant" and not message.tool_calls) %}
        {{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}
    {%- elif message.role == "assistant" %}
        {{- '<|im_start|>' + message.role }}
        {%- if message.content %}
            {{- '\\n' + message.content }}
        {%- endif %}
        {%- for tool_call in message.tool_calls %}
            {%- if tool_call.function is defined %}
                {%- set tool_call = tool_call.function %}
            {%- endif %}
            {{- '\\n<tool_call>\\n{"name": "' }}
            {{- tool_call.name }}
            {{- '", "arguments": ' }}
            {{- tool_call.arguments | tojson }}
            {{- '}\\n</tool_call>' }}
        {%- endfor %}
        {{- '<|im_end|>\\n' }}
    {%- elif message.role == "tool" %}
        {%- if (loop.index0 == 0) or (messages[loop.index0 - 1].role != "tool") %}
            {{- '<|im_start|>user' }}
        {%- endif %}
        {{- '\\n<tool_response>\\n' }}
        {{- message.content }}
        {{- '\\n</tool_response>' }}
        {%- if loop.last or (messages[loop.index0 + 1].role != "tool") %}
            {{- '<|im_end|>\\n' }}
        {%- endif %}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\\n' }}
{%- endif %}
"""

DEEPSEEK_CODER = (
    "{% if not add_generation_prompt is defined %}\n{% set add_generation_prompt = false %}\n{% endif %}\n"
    "{%- set ns = namespace(found=false) -%}\n{%- for message in messages -%}\n    {%- if message['role'] == 'system' -%}\n"
    "        {%- set ns.found = true -%}\n    {%- endif -%}\n{%- endfor -%}\n{{bos_token}}{%- if not ns.found -%}\n"
    "{{'You are an AI programming assistant, utilizing the Deepseek Coder model, developed by Deepseek Company, and you "
    "only answer questions related to computer science. For politically sensitive questions, security and privacy issues, "
    "and other non-computer science questions, you will refuse to answer\\n'}}\n{%- endif %}\n{%- for message in messages %}\n"
    "    {%- if message['role'] == 'system' %}\n{{ message['content'] }}\n    {%- else %}\n        {%- if message['role'] == 'user' %}\n"
    "{{'### Instruction:\\n' + message['content'] + '\\n'}}\n        {%- else %}\n"
    "{{'### Response:\\n' + message['content'] + '\\n<|EOT|>\\n'}}\n        {%- endif %}\n    {%- endif %}\n"
    "{%- endfor %}\n{% if add_generation_prompt %}\n{{'### Response:'}}\n{% endif %}"
)

DEEPSEEK_V3 = (
    "{% if not add_generation_prompt is defined %}{% set add_generation_prompt = false %}{% endif %}"
    "{% set ns = namespace(is_first=false, is_tool=false, is_output_first=true, system_prompt='') %}"
    "{%- for message in messages %}{%- if message['role'] == 'system' %}{% set ns.system_prompt = message['content'] %}"
    "{%- endif %}{%- endfor %}{{bos_token}}{{ns.system_prompt}}{%- for message in messages %}"
    "{%- if message['role'] == 'user' %}{%- set ns.is_tool = false -%}{{'<｜User｜>' + message['content']}}{%- endif %}"
    "{%- if message['role'] == 'assistant' and message['content'] is none %}{%- set ns.is_tool = false -%}"
    "{%- for tool in message['tool_calls']%}{%- if not ns.is_first %}{{'<｜Assistant｜><｜tool▁calls▁begin｜>"
    "<｜tool▁call▁begin｜>' + tool['type'] + '<｜tool▁sep｜>' + tool['function']['name'] + '\\n' + '```json' + '\\n' + "
    "tool['function']['arguments'] + '\\n' + '```' + '<｜tool▁call▁end｜>'}}{%- set ns.is_first = true -%}{%- else %}"
    "{{'\\n' + '<｜tool▁call▁begin｜>' + tool['type'] + '<｜tool▁sep｜>' + tool['function']['name'] + '\\n' + '```json' + "
    "'\\n' + tool['function']['arguments'] + '\\n' + '```' + '<｜tool▁call▁end｜>'}}{{'<｜tool▁calls▁end｜>"
    "<｜end▁of▁sentence｜>'}}{%- endif %}{%- endfor %}{%- endif %}"
    "{%- if message['role'] == 'assistant' and message['content'] is not none %}{%- if ns.is_tool %}"
    "{{'<｜tool▁outputs▁end｜>' + message['content'] + '<｜end▁of▁sentence｜>'}}{%- set ns.is_tool = false -%}"
    "{%- else %}{{'<｜Assistant｜>' + message['content'] + '<｜end▁of▁sentence｜>'}}{%- endif %}{%- endif %}"
    "{%- if message['role'] == 'tool' %}{%- set ns.is_tool = true -%}{%- if ns.is_output_first %}"
    "{{'<｜tool▁outputs▁begin｜><｜tool▁output▁begin｜>' + message['content'] + '<｜tool▁output▁end｜>'}}"
    "{%- set ns.is_output_first = false %}{%- else %}{{'\\n<｜tool▁output▁begin｜>' + message['content'] + "
    "'<｜tool▁output▁end｜>'}}{%- endif %}{%- endif %}{%- endfor -%}{% if ns.is_tool %}{{'<｜tool▁outputs▁end｜>'}}"
    "{% endif %}{% if add_generation_prompt and not ns.is_tool %}{{'<｜Assistant｜>'}}{% endif %}"
)

# Hermes-2-Pro style: a default template plus a named `tool_use` one with macros.
HERMES_TOOL_USE = """{%- macro json_to_python_type(json_spec) %}
{%- set basic_type_map = {
    "string": "str",
    "number": "float",
    "integer": "int",
    "boolean": "bool"
} %}
{%- if basic_type_map[json_spec.type] is defined %}
    {{- basic_type_map[json_spec.type] }}
{%- elif json_spec.type == "array" %}
    {{- "list[" +  json_to_python_type(json_spec|items) + "]"}}
{%- elif json_spec.type == "object" %}
    {%- if json_spec.additionalProperties is defined %}
        {{- "dict[str, " + json_to_python_type(json_spec.additionalProperties) + ']'}}
    {%- else %}
        {{- "dict" }}
    {%- endif %}
{%- else %}
    {{- "Any" }}
{%- endif %}
{%- endmacro %}

{{- bos_token }}
{{- '<|im_start|>system\\n' }}
{{- "You are a function calling AI model. You are provided with function signatures within <tools></tools> XML tags. Here are the available tools: <tools> " }}
{%- for tool in tools %}
    {%- if tool.function is defined %}
        {%- set tool = tool.function %}
    {%- endif %}
    {{- '{"type": "function", "function": ' }}
    {{- '{"name": "' + tool.name + '", ' }}
    {{- '"description": "' + tool.name + '(' }}
    {%- for param_name, param_fields in tool.parameters.properties|items %}
        {{- param_name + ": " + json_to_python_type(param_fields) }}
        {%- if not loop.last %}
            {{- ", " }}
        {%- endif %}
    {%- endfor %}
    {{- ")" }}
    {{- '"}}' }}
{%- endfor %}
{{- " </tools><|im_end|>\\n" }}
{%- for message in messages %}
    {{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\\n' }}
{%- endif %}
"""

BENIGN_TEMPLATES = {
    "llama2": LLAMA2,
    "llama3": LLAMA3,
    "llama31_tools": LLAMA31,
    "mistral": MISTRAL,
    "chatml": CHATML,
    "gemma": GEMMA,
    "phi3": PHI3,
    "qwen2": QWEN2,
    "qwen25_tools": QWEN25,
    "deepseek_coder": DEEPSEEK_CODER,
    "deepseek_v3": DEEPSEEK_V3,
}

# ----- SSTI payloads (inert: `echo aisec-fixture`, /etc/hostname) ---------------------------------

SSTI = {
    "subclasses": "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "cycler_globals_popen": "{{ cycler.__init__.__globals__.os.popen('echo aisec-fixture').read() }}",
    "joiner_builtins_import": "{{ joiner.__init__.__globals__['__builtins__']['__import__']('os').popen('echo aisec-fixture').read() }}",
    "lipsum_globals_os": "{{ lipsum.__globals__['os'].popen('cat /etc/hostname').read() }}",
    "template_reference_context": "{{ self._TemplateReference__context.cycler.__init__.__globals__.os.popen('echo aisec-fixture').read() }}",
    "attr_filter_chain": "{{ ()|attr('__class__')|attr('__base__')|attr('__subclasses__')() }}",
    "attr_hex_escapes": "{{ lipsum|attr('\\x5f\\x5fglobals\\x5f\\x5f')|attr('\\x5f\\x5fgetitem\\x5f\\x5f')('os')|attr('popen')('echo aisec-fixture')|attr('read')() }}",
    "tilde_concat": "{% set u = '_' ~ '_' %}{% set g = u ~ 'globals' ~ u %}{{ (cycler.__init__|attr(g))['os'].popen('echo aisec-fixture').read() }}",
    "join_filter": "{% set n = ['__', 'cla', 'ss', '__']|join %}{{ ''|attr(n) }}",
    "format_percent": "{{ ''|attr('%c%cclass%c%c'|format(95, 95, 95, 95))|attr('%c%cmro%c%c'|format(95, 95, 95, 95)) }}",
    "namespace_globals": "{{ namespace.__init__.__globals__.os.popen('echo aisec-fixture').read() }}",
}


def ssti_in(base: str, payload: str) -> str:
    """A real template with the payload spliced into its generation prompt, as attackers ship them."""
    return base.replace("{% if add_generation_prompt %}", payload + "{% if add_generation_prompt %}", 1) \
        if "{% if add_generation_prompt %}" in base else base + payload


# ----- benign model writer -------------------------------------------------------------------------

def vocab() -> list[str]:
    toks = ["<unk>", "<s>", "</s>"] + [f"<0x{i:02X}>" for i in range(256)]
    toks += ["▁the", "▁a", "▁of", "{{", "}}", "{%", "%}", "▁{{", "▁print", "▁import", "▁os", "__", "▁__init__",
             "class", "▁system", "▁popen", "[INST]", "[/INST]", "<|im_start|>", "<|im_end|>"]
    return toks


def tensor_bytes(rng: np.random.Generator, qtype: Q, ne0: int, ne1: int) -> np.ndarray:
    block, size = gguf.GGML_QUANT_SIZES[qtype]
    return rng.integers(0, 256, size=(ne1, ne0 // block * size), dtype=np.uint8)


def write_model(path: Path, template: str | list | None, *, endian=gguf.GGUFEndian.LITTLE, extra=None,
                tensors: bool = True, arch: str = "llama") -> None:
    rng = np.random.default_rng(7)
    w = gguf.GGUFWriter(str(path), arch, endianess=endian)
    w.add_name("Tiny Fixture Model")
    w.add_type("model")
    w.add_basename("tiny-fixture")
    w.add_size_label("1M")
    w.add_license("apache-2.0")
    w.add_url("https://example.org/tiny-fixture")
    w.add_base_model_count(1)
    w.add_base_model_name(0, "Tiny Base")
    w.add_base_model_repo_url(0, "https://example.org/org/tiny-base")
    w.add_tags(["text-generation", "gguf"])
    w.add_languages(["en"])
    w.add_context_length(2048)
    w.add_embedding_length(64)
    w.add_block_count(1)
    w.add_feed_forward_length(256)
    w.add_head_count(4)
    w.add_head_count_kv(4)
    w.add_rope_freq_base(10000.0)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_file_type(15)
    w.add_quantization_version(2)
    toks = vocab()
    w.add_tokenizer_model("llama")
    w.add_tokenizer_pre("default")
    w.add_token_list(toks)
    w.add_token_scores([float(-i) for i in range(len(toks))])
    w.add_token_types([2, 3, 3] + [6] * 256 + [1] * (len(toks) - 259))
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_unk_token_id(0)
    w.add_add_bos_token(True)
    w.add_add_eos_token(False)
    if template is not None:
        w.add_chat_template(template)
    for fn in extra or []:
        fn(w)
    if tensors:
        w.add_tensor("token_embd.weight", tensor_bytes(rng, Q.Q4_K, 256, 16), raw_dtype=Q.Q4_K)
        w.add_tensor("blk.0.attn_norm.weight", rng.standard_normal(64).astype(np.float32))
        w.add_tensor("blk.0.attn_q.weight", tensor_bytes(rng, Q.Q8_0, 64, 64), raw_dtype=Q.Q8_0)
        w.add_tensor("blk.0.attn_k.weight", tensor_bytes(rng, Q.Q4_0, 64, 16), raw_dtype=Q.Q4_0)
        w.add_tensor("blk.0.attn_v.weight", tensor_bytes(rng, Q.IQ4_NL, 64, 16), raw_dtype=Q.IQ4_NL)
        w.add_tensor("blk.0.ffn_up.weight", tensor_bytes(rng, Q.Q6_K, 256, 8), raw_dtype=Q.Q6_K)
        w.add_tensor("blk.0.ffn_down.weight", tensor_bytes(rng, Q.Q5_K, 256, 8), raw_dtype=Q.Q5_K)
        w.add_tensor("output_norm.weight", rng.standard_normal(64).astype(np.float32))
        w.add_tensor("output.weight", rng.standard_normal((16, 64)).astype(np.float16))
        w.add_tensor("rope_freqs.weight", rng.standard_normal(16).astype(np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def row(path: str, expected: str, cls: str, desc: str) -> None:
    ROWS.append((path, expected, cls, desc))


def benign() -> None:
    d = HERE / "benign"
    d.mkdir(exist_ok=True)
    for name, tmpl in BENIGN_TEMPLATES.items():
        write_model(d / f"{name}.gguf", tmpl)
        row(f"benign/{name}.gguf", "benign", "chat-template", f"tiny llama-arch model (Q4_K/Q8_0/Q4_0/IQ4_NL/Q6_K/Q5_K/F32/F16) with the real {name} chat template")
    write_model(d / "chatml_big_endian.gguf", CHATML, endian=gguf.GGUFEndian.BIG)
    row("benign/chatml_big_endian.gguf", "benign", "big-endian", "big-endian GGUF v3 (as written for s390x) with a ChatML template")
    write_model(d / "hermes_named_templates.gguf", [
        {"name": "default", "template": CHATML},
        {"name": "tool_use", "template": HERMES_TOOL_USE},
    ])
    row("benign/hermes_named_templates.gguf", "benign", "named-templates", "default + `tokenizer.chat_template.tool_use` with macros, and `tokenizer.chat_templates`")
    write_model(d / "vocab_only.gguf", LLAMA3, tensors=False)
    row("benign/vocab_only.gguf", "benign", "vocab-only", "vocabulary-only GGUF (no tensors), like llama.cpp's ggml-vocab files")
    write_model(d / "no_template.gguf", None)
    row("benign/no_template.gguf", "benign", "no-template", "base model without a chat template")
    write_model(d / "custom_alignment.gguf", QWEN2, extra=[lambda w: w.add_custom_alignment(64)])
    row("benign/custom_alignment.gguf", "benign", "alignment", "general.alignment = 64")
    write_model(d / "prompt_metadata.gguf", GEMMA, extra=[
        lambda w: w.add_string("general.description", "Fine-tuned with prompts like {{instruction}} and {{ input }}."),
        lambda w: w.add_array("general.tags_extra", ["{{ user }}", "plain"]),
    ])
    row("benign/prompt_metadata.gguf", "benign", "metadata-braces", "other metadata strings with harmless `{{ }}` placeholders")
    charsmap = struct.pack("<I", 16) + bytes(range(16)) + b"a\0b\0\xe2\x96\x81\0"
    write_model(d / "ugm_charsmap.gguf", CHATML, extra=[lambda w: w.add_precompiled_charsmap(charsmap)])
    row("benign/ugm_charsmap.gguf", "benign", "charsmap", "SentencePiece precompiled charsmap whose blob size fits")
    # GGUF v2 (same layout as v3 for little-endian files).
    write_model(d / "phi3_v2.gguf", PHI3)
    data = bytearray((d / "phi3_v2.gguf").read_bytes())
    data[4:8] = struct.pack("<I", 2)
    (d / "phi3_v2.gguf").write_bytes(bytes(data))
    row("benign/phi3_v2.gguf", "benign", "v2", "GGUF version 2 with a Phi-3 template")


def ssti() -> None:
    d = HERE / "malicious"
    d.mkdir(exist_ok=True)
    bases = [CHATML, LLAMA3, QWEN2, MISTRAL, GEMMA, PHI3, LLAMA2, DEEPSEEK_V3, CHATML, LLAMA3, QWEN2]
    for (name, payload), base in zip(SSTI.items(), bases):
        write_model(d / f"ssti_{name}.gguf", ssti_in(base, payload))
        row(f"malicious/ssti_{name}.gguf", "malicious", "ssti",
            f"chat template with an SSTI payload ({name}); found by the Jinja analyser")
    payload = SSTI["cycler_globals_popen"]
    write_model(d / "ssti_named_tool_use.gguf", [
        {"name": "default", "template": CHATML},
        {"name": "tool_use", "template": HERMES_TOOL_USE + payload},
    ])
    row("malicious/ssti_named_tool_use.gguf", "malicious", "ssti", "payload in `tokenizer.chat_template.tool_use`, benign default; found by the Jinja analyser")
    write_model(d / "ssti_big_endian.gguf", ssti_in(CHATML, payload), endian=gguf.GGUFEndian.BIG)
    row("malicious/ssti_big_endian.gguf", "malicious", "ssti", "big-endian GGUF v3 with an SSTI template; found by the Jinja analyser")
    write_model(d / "ssti_other_key.gguf", CHATML, extra=[
        lambda w: w.add_string("general.prompt_template", "{{ cycler.__init__.__globals__.os.popen('echo aisec-fixture').read() }}")])
    row("malicious/ssti_other_key.gguf", "malicious", "ssti", "payload in a non-standard metadata key; found by the Jinja analyser")


# ----- structural attacks, byte by byte -------------------------------------------------------------

class Raw:
    """A GGUF writer that writes whatever it is told (counts, lengths, types), little-endian v3 unless set."""

    def __init__(self, version: int = 3, big: bool = False):
        self.version, self.e = version, ">" if big else "<"
        self.kvs: list[bytes] = []
        self.tis: list[bytes] = []
        self.data = b""
        self.n_kv: int | None = None
        self.n_tensors: int | None = None
        self.alignment = 32

    def cnt(self, n: int) -> bytes:
        return struct.pack(self.e + ("I" if self.version == 1 else "Q"), n)

    def s(self, b: bytes | str, length: int | None = None) -> bytes:
        b = b.encode() if isinstance(b, str) else b
        return self.cnt(len(b) if length is None else length) + b

    def u32(self, v: int) -> bytes:
        return struct.pack(self.e + "I", v)

    def kv(self, key: str, vtype: int, payload: bytes) -> "Raw":
        self.kvs.append(self.s(key) + self.u32(vtype) + payload)
        return self

    def kv_str(self, key: str, val: str) -> "Raw":
        return self.kv(key, V.STRING, self.s(val))

    def tensor(self, name: str, dims: list[int], ggml_type: int, offset: int, n_dims: int | None = None) -> "Raw":
        b = self.s(name) + self.u32(len(dims) if n_dims is None else n_dims)
        for d in dims:
            b += self.cnt(d)
        b += self.u32(ggml_type) + struct.pack(self.e + "Q", offset)
        self.tis.append(b)
        return self

    def base(self) -> "Raw":
        return self.kv_str("general.architecture", "llama").kv_str("general.name", "tiny").kv_str(
            "tokenizer.chat_template", CHATML)

    def build(self) -> bytes:
        out = b"GGUF" + self.u32(self.version)
        out += self.cnt(len(self.tis) if self.n_tensors is None else self.n_tensors)
        out += self.cnt(len(self.kvs) if self.n_kv is None else self.n_kv)
        out += b"".join(self.kvs) + b"".join(self.tis)
        out += b"\0" * (-len(out) % self.alignment)
        return out + self.data


def structural() -> None:
    d = HERE / "malicious"
    cases: list[tuple[str, bytes, str]] = []

    def add(name: str, raw: Raw | bytes, desc: str) -> None:
        cases.append((name, raw if isinstance(raw, bytes) else raw.build(), desc))

    r = Raw().base().tensor("t", [64], 0, 0); r.data = b"\0" * 256; r.n_kv = (1 << 63) - 1
    add("n_kv_huge", r, "metadata count 2^63-1 (ggml n_kv overflow class)")
    r = Raw().base().tensor("t", [64], 0, 0); r.data = b"\0" * 256; r.n_tensors = (1 << 64) - 1
    add("n_tensors_huge", r, "tensor count 2^64-1 (ggml n_tensors overflow class)")
    r = Raw(version=1).base(); r.n_kv = 0xFFFFFFFF
    add("n_kv_huge_v1", r, "GGUF v1 with metadata count 2^32-1")
    r = Raw().base(); r.n_tensors = 0x0FFFFFFF
    add("n_tensors_2p28", r, "tensor count 2^28 in a 1 KiB file")
    r = Raw().base(); r.kvs.append(r.s("general.description", 1 << 63) + b"")  # key with absurd length
    add("key_length_2p63", r, "metadata key whose length is 2^63")
    r = Raw().base(); r.kv("general.description", V.STRING, r.s("x", (1 << 63) + 7))
    add("string_length_2p63", r, "string value whose declared length is 2^63+7")
    r = Raw().base(); r.kv("general.description", V.STRING, r.s("x", 0xFFFFFFFFFFFFFFFF))
    add("string_length_max", r, "string value whose declared length is 2^64-1 (wraps to 0 on +1)")
    r = Raw().base(); r.kv("tokenizer.ggml.tokens", V.ARRAY, r.u32(V.STRING) + r.cnt(1 << 61) + r.s("a"))
    add("array_strings_huge", r, "string array of 2^61 elements")
    r = Raw().base(); r.kv("tokenizer.ggml.scores", V.ARRAY, r.u32(V.FLOAT32) + r.cnt((1 << 62) + 1) + b"\0" * 8)
    add("array_floats_overflow", r, "float32 array whose byte size overflows 64 bits")
    r = Raw().base(); r.kv("x.nested", V.ARRAY, r.u32(V.ARRAY) + r.cnt(1 << 40))
    add("array_nested_huge", r, "array of 2^40 arrays")
    nest = b""
    for _ in range(1000):
        nest += struct.pack("<I", V.ARRAY) + struct.pack("<Q", 1)
    nest += struct.pack("<I", V.UINT8) + struct.pack("<Q", 0)
    r = Raw().base(); r.kv("x.deep", V.ARRAY, nest)
    add("array_nested_deep", r, "arrays nested 1000 deep (stack exhaustion in recursive readers)")
    r = Raw().base(); r.kv("general.file_type", 77, r.u32(1))
    add("bad_value_type", r, "metadata value of type 77")
    r = Raw().base(); r.kv("x.arr", V.ARRAY, r.u32(4242) + r.cnt(4) + b"\0" * 16)
    add("bad_array_element_type", r, "array with element type 4242")
    r = Raw().base().tensor("blk.0.attn_q.weight", [1 << 40, 1 << 40], 0, 0)
    add("dims_overflow", r, "tensor of 2^40 x 2^40 F32 elements: element count overflows int64")
    r = Raw().base().tensor("blk.0.attn_q.weight", [(1 << 62) + 64, 4], 1, 0)
    add("dims_bytes_overflow", r, "tensor whose byte size overflows while the element count does not")
    r = Raw().base().tensor("blk.0.attn_q.weight", [0xFFFFFFFFFFFFFFC0, 1], 0, 0)
    add("dims_negative", r, "tensor dimension negative as ggml's int64")
    r = Raw().base().tensor("scalar", [], 0, 0); r.data = b"\0" * 32
    add("n_dims_zero", r, "tensor with 0 dimensions (ggml asserts n_dims >= 1)")
    r = Raw().base().tensor("t5", [2, 2, 2, 2, 2], 0, 0); r.data = b"\0" * 128
    add("n_dims_five", r, "tensor with 5 dimensions (GGML_MAX_DIMS is 4)")
    r = Raw().base().tensor("t", [8], 0, 0, n_dims=0xFFFFFFFF)
    add("n_dims_max", r, "tensor with 2^32-1 dimensions declared")
    r = Raw().base().tensor("t", [64], 0, 1 << 40); r.data = b"\0" * 256
    add("offset_past_eof", r, "tensor offset 2^40 in a small file")
    r = Raw().base().tensor("t", [64], 0, 0xFFFFFFFFFFFFFF00); r.data = b"\0" * 256
    add("offset_wraps", r, "tensor offset + size overflows 64 bits")
    r = Raw().base().tensor("t", [64], 0, 0).tensor("u", [64], 0, 1024); r.data = b"\0" * 512
    add("tensor_past_eof", r, "second tensor's data lies past the end of the file")
    r = Raw().base().tensor("t", [64], 0, 4); r.data = b"\0" * 512
    add("offset_misaligned", r, "tensor offset 4 with alignment 32")
    r = Raw().base().tensor("a", [64], 0, 0).tensor("b", [64], 0, 128); r.data = b"\0" * 512
    add("tensors_overlap", r, "two tensors sharing 128 bytes")
    r = Raw().base().tensor("w", [64], 0, 0).tensor("w", [64], 0, 256); r.data = b"\0" * 512
    add("tensor_duplicate_name", r, "two tensors named `w`")
    r = Raw().base().tensor("t", [64], 999, 0); r.data = b"\0" * 256
    add("ggml_type_unknown", r, "ggml type 999")
    r = Raw().base().tensor("t", [64], 4, 0); r.data = b"\0" * 256
    add("ggml_type_q4_2", r, "ggml type 4 (Q4_2, removed before GGUF existed)")
    r = Raw().base().tensor("t", [100, 2], 12, 0); r.data = b"\0" * 512
    add("block_not_multiple", r, "Q4_K tensor with ne0=100 (not a multiple of 256)")
    r = Raw().base().kv("general.alignment", V.UINT32, struct.pack("<I", 0)).tensor("t", [64], 0, 0); r.data = b"\0" * 256
    add("alignment_zero", r, "general.alignment = 0 (division by zero)")
    r = Raw().base().kv("general.alignment", V.UINT32, struct.pack("<I", 24)).tensor("t", [64], 0, 0); r.data = b"\0" * 256
    add("alignment_not_pow2", r, "general.alignment = 24")
    r = Raw().base().kv("general.alignment", V.UINT64, struct.pack("<Q", 32)).tensor("t", [64], 0, 0); r.data = b"\0" * 256
    add("alignment_wrong_type", r, "general.alignment stored as uint64")
    r = Raw().base().kv_str("tokenizer.chat_template", LLAMA3)
    add("duplicate_key_template", r, "two `tokenizer.chat_template` entries (readers keep different ones)")
    toks = [f"t{i}" for i in range(64)]
    r = Raw().base().kv("tokenizer.ggml.tokens", V.ARRAY, struct.pack("<IQ", V.STRING, len(toks)) + b"".join(Raw().s(t) for t in toks))
    r.kv("tokenizer.ggml.scores", V.ARRAY, struct.pack("<IQ", V.FLOAT32, 4) + b"\0" * 16)
    add("vocab_scores_short", r, "64 tokens but 4 scores (llama.cpp reads scores[id] out of bounds)")
    r = Raw().base().kv("tokenizer.ggml.tokens", V.ARRAY, struct.pack("<IQ", V.STRING, len(toks)) + b"".join(Raw().s(t) for t in toks))
    r.kv("tokenizer.ggml.token_type", V.ARRAY, struct.pack("<IQ", V.UINT8, 64) + b"\1" * 64)
    add("vocab_token_type_narrow", r, "token types as uint8 where loaders read int32")
    # Big-endian and v1 variants of the same attacks.
    r = Raw(big=True).base().tensor("t", [64], 0, 1 << 40); r.data = b"\0" * 256
    add("be_offset_past_eof", r, "big-endian v3: tensor offset 2^40")
    r = Raw(big=True).base(); r.n_kv = 1 << 60
    add("be_n_kv_huge", r, "big-endian v3: metadata count 2^60")
    r = Raw(version=1).base(); r.kv("general.description", V.STRING, r.s("x", 0xFFFFFFF0))
    add("v1_string_length", r, "GGUF v1: 32-bit string length 2^32-16 in a tiny file")
    r = Raw(version=1).base().tensor("t", [1 << 20, 1 << 20, 1 << 20, 1 << 20], 0, 0)
    add("v1_dims_overflow", r, "GGUF v1: 32-bit dimensions whose product overflows int64")

    write_model(d / "charsmap_oob.gguf", CHATML, extra=[
        lambda w: w.add_precompiled_charsmap(struct.pack("<I", 0x7FFFFFF0) + bytes(range(16)))])
    add("charsmap_oob", (d / "charsmap_oob.gguf").read_bytes(), "precompiled charsmap declaring a 2 GiB blob in 20 bytes (llama.cpp OOB read)")
    # GGUF/ZIP polyglots: `torch.load` on the file opens the archive and runs its pickle.
    pkl = b"\x80\x02cposix\nsystem\nq\x00X\x12\x00\x00\x00echo aisec-fixtureq\x01\x85q\x02Rq\x03."
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        for name, body in (("archive/data.pkl", pkl), ("archive/version", b"3\n")):
            z.writestr(zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0)), body)
    zbytes = buf.getvalue()
    write_model(d / "polyglot_zip_appended.gguf", CHATML)
    data = (d / "polyglot_zip_appended.gguf").read_bytes() + zbytes
    add("polyglot_zip_appended", data, "PyTorch-style zip (pickle calls posix.system) appended to a valid GGUF")
    r = Raw().base().tensor("blk.0.ffn_up.weight", [len(zbytes)], 24, 0); r.data = zbytes
    add("polyglot_zip_in_tensor", r, "zip with a malicious pickle stored as the last I8 tensor's data, ending the file")

    for name, data, desc in cases:
        (d / f"{name}.gguf").write_bytes(data)
        row(f"malicious/{name}.gguf", "malicious", "structure", desc)


def perf(out: Path) -> None:
    """~1 GiB GGUF: real metadata and 32 Q8_0 tensors of 32 MiB each; data written in 8 MiB chunks."""
    w = gguf.GGUFWriter(str(out), "llama")
    w.add_chat_template(LLAMA31)
    w.add_token_list(vocab() * 500)
    w.add_block_count(32)
    block, size = gguf.GGML_QUANT_SIZES[Q.Q8_0]
    ne0, ne1 = 4096, (32 << 20) // (4096 // block * size)
    nbytes = ne1 * (ne0 // block * size)
    for i in range(32):
        w.add_tensor_info(f"blk.{i}.ffn_up.weight", (ne1, ne0 // block * size), np.dtype(np.uint8), nbytes,
                          raw_dtype=Q.Q8_0)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_ti_data_to_file()
    chunk = np.random.default_rng(1).integers(0, 256, 8 << 20, dtype=np.uint8).tobytes()
    with open(out, "ab") as f:
        f.write(b"\0" * (-f.tell() % 32))
        for _ in range(32):
            left = gguf.GGUFWriter.ggml_pad(nbytes, 32)
            while left:
                n = min(left, len(chunk))
                f.write(chunk[:n])
                left -= n
    w.close()
    print(f"wrote {out} ({out.stat().st_size} bytes)")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--perf", type=Path, help="write a ~1 GiB GGUF here for benchmarks and exit")
    a = ap.parse_args()
    if a.perf:
        perf(a.perf)
        return
    os.chdir(HERE)
    benign()
    ssti()
    structural()
    with open(HERE / "MANIFEST.tsv", "w") as f:
        f.write("path\texpected\tclass\tdescription\n")
        for r in sorted(ROWS):
            f.write("\t".join(r) + "\n")
    print(f"{len(ROWS)} fixtures", file=sys.stderr)


if __name__ == "__main__":
    main()
