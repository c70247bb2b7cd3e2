//! Analysis tests: each technique an attacker varies, and real chat-template idioms that must stay quiet.

use aisec_core::Severity;

use super::*;

fn worst(src: &str) -> (Severity, Vec<&'static str>) {
    let issues = analyse_template(src, "test");
    let rules: Vec<&'static str> = issues.iter().map(|i| i.rule).collect();
    let sev = issues
        .iter()
        .map(|i| {
            i.severity.unwrap_or_else(|| {
                RULES
                    .iter()
                    .find(|r| r.id == i.rule)
                    .map_or(Severity::Info, |r| r.severity)
            })
        })
        .max()
        .unwrap_or(Severity::Info);
    (sev, rules)
}

fn critical(src: &str) {
    let (s, rules) = worst(src);
    assert_eq!(s, Severity::Critical, "{src}: {rules:?}");
    assert!(rules.contains(&"MS650"), "{src}: {rules:?}");
}

fn high(src: &str) {
    let (s, rules) = worst(src);
    assert!(s >= Severity::High, "{src}: {s:?} {rules:?}");
}

fn quiet(src: &str) {
    let issues = analyse_template(src, "test");
    let loud: Vec<_> = issues
        .iter()
        .filter(|i| {
            i.severity.unwrap_or_else(|| {
                RULES
                    .iter()
                    .find(|r| r.id == i.rule)
                    .map_or(Severity::Info, |r| r.severity)
            }) >= Severity::Medium
        })
        .collect();
    assert!(loud.is_empty(), "{src}: {loud:#?}");
}

#[test]
fn direct_dunder_chains() {
    critical("{{ ''.__class__.__mro__[1].__subclasses__() }}");
    critical(
        "{{ self._TemplateReference__context.cycler.__init__.__globals__.os.popen('echo aisec-fixture').read() }}",
    );
    critical("{{ lipsum.__globals__['os'].popen('id').read() }}");
    critical("{{ range.__init__ }}");
    critical("{% if x.__class__ %}{% endif %}");
    critical("{% for c in ().__class__.__base__.__subclasses__() %}{% endfor %}");
    critical("{{ x['__globals__'] }}");
    critical("{{ loop.__class__ }}");
    critical("{{ x.gi_frame.f_globals }}");
}

#[test]
fn sinks_are_named() {
    let issues = analyse_template(
        "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
        "t",
    );
    let i = issues.iter().find(|i| i.rule == "MS650").expect("finding");
    assert!(i.title.contains("popen"), "{}", i.title);
    assert_eq!(i.evidence["line"], 1);
    assert_eq!(i.offset, Some(3));
}

#[test]
fn computed_names() {
    critical("{{ ''|attr('__cla' ~ 'ss__') }}");
    critical("{{ ''|attr('\\x5f\\x5fclass\\x5f\\x5f') }}");
    critical("{{ ''|attr('\\u005f\\u005fclass\\u005f\\u005f') }}");
    critical("{{ ''|attr('\\137\\137class\\137\\137') }}");
    critical("{{ ''|attr(['_','_','class','_','_']|join) }}");
    critical("{{ ''|attr('%s%sclass%s%s'|format('_','_','_','_')) }}");
    critical("{{ ''|attr('%c%cclass%c%c' % (95, 95, 95, 95)) }}");
    critical("{{ ''|attr('__ssalc__'|reverse) }}");
    critical("{{ ''|attr('__ssalc__'[::-1]) }}");
    critical("{{ ''|attr('xxclassxx'|replace('x', '_')) }}");
    critical("{{ ''|attr('_' * 2 ~ 'class' ~ '_' * 2) }}");
    critical("{{ ''|attr(dict(__cla=1, ss__=2)|join) }}");
    critical("{{ ''|attr('{}{}class{}{}'.format('_','_','_','_')) }}");
    critical("{{ ''|attr(''.join(['__', 'class', '__'])) }}");
    critical("{{ ''|attr('__CLASS__'|lower) }}");
    critical("{{ x[('__glob' + 'als__')] }}");
    critical("{{ '{0.__class__.__mro__}'.format(x) }}");
    critical("{{ x|map(attribute='__class__')|list }}");
    critical("{{ x|map('attr', '__class__')|list }}");
    critical("{{ x|selectattr('__class__') }}");
    critical("{{ x|attr('__in' 'it__') }}");
}

#[test]
fn data_flow() {
    critical("{% set a = '__cla' %}{% set b = a ~ 'ss__' %}{{ ''|attr(b) }}");
    critical(
        "{% set ns = namespace(a='__glo') %}{% set ns.b = ns.a ~ 'bals__' %}{{ x|attr(ns.b) }}",
    );
    critical("{% macro g(o, n) %}{{ o|attr(n) }}{% endmacro %}{{ g('', '__class__') }}");
    critical("{% macro u() %}__{% endmacro %}{{ ''|attr(u() ~ 'class' ~ u()) }}");
    critical("{% set n %}__class__{% endset %}{{ ''|attr(n) }}");
    critical("{% set n -%}\n  __class__\n{%- endset %}{{ ''|attr(n|trim) }}");
    critical("{% with n = '__class__' %}{{ ''|attr(n) }}{% endwith %}");
    critical("{% for n in ['__class__'] %}{{ ''|attr(n) }}{% endfor %}");
    critical("{% set a, b = '__cla', 'ss__' %}{{ ''|attr(a ~ b) }}");
    critical("{% set c = ''|attr('__class__') %}{{ c }}");
    critical("{% set p = ['_', '_'] %}{% set n = p|join ~ 'globals' ~ p|join %}{{ x|attr(n) }}");
}

#[test]
fn incomplete_constructs_are_high() {
    high("{{ ''|attr(request.args.a) }}");
    high("{{ x|attr((lipsum|string)[18] * 2 ~ 'class') }}");
    high("{% set a = '__glo' ~ 'bals__' %}");
    high("{{ 'plain' ~ '\\x61' }}");
    high("{{ self._TemplateReference__context }}");
    high("{{ config.items() }}");
    high("{{ request.application }}");
    high("{{ eval('1') }}");
    high("{{ os.popen('id').read() }}");
    high("{% include '/etc/passwd' %}");
    high("{{ x.__len__() }}");
    high("{{ ''.__class__ }{ ) }}{{ x|attr('__cl' ~ 'ass__') }}");
    high("{{ broken( |attr('__class__') }}");
}

#[test]
fn chat_template_idioms_are_quiet() {
    quiet(
        "{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}\
{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}\
{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}{% elif message['role'] == 'assistant' %}\
{{ message['content'] + eos_token }}{% endif %}{% endfor %}",
    );
    quiet(
        "{%- set ns = namespace(found=false, is_first=true) -%}{%- for m in messages -%}{%- if m.role == 'system' -%}\
{%- set ns.found = true -%}{%- endif -%}{%- endfor -%}{{ '<|im_start|>' ~ ns.found|string }}\
{%- if tools is defined and tools -%}{{ tools | tojson(indent=4) }}{%- endif -%}{{ strftime_now('%d %b %Y') }}\
{% for t in message.tool_calls %}{{ t.function.arguments | tojson }}{% endfor %}{{ messages[-1]['content'][:10] }}\
{% if not loop.last %}{{ '\\n' }}{% endif %}{{ (messages|selectattr('role', 'equalto', 'system')|list)|length }}\
{{ message.content.split('</think>')[-1].lstrip('\\n') }}{{ content|replace('<tool_call>', '')|trim }}\
{% set content = message['content'] if message['content'] is string else message['content'][0]['text'] %}\
{{ '<start_of_turn>' + role + '\\n' + content | trim + '<end_of_turn>\\n' }}{{ range(3)|list }}",
    );
    quiet("{% raw %}{{ x.__class__ }}{% endraw %}");
    quiet("{# {{ x.__class__ }} #}");
    quiet("__class__ in plain text {{ x }}");
    quiet("{{ messages|map(attribute='content')|join('\\n') }}");
}

#[test]
fn syntax_errors_are_low_and_local() {
    let issues = analyse_template("{{ messages[0]['content' }}{{ x.__class__ }}", "t");
    assert!(issues.iter().any(|i| i.rule == "MS657"));
    assert!(issues.iter().any(|i| i.rule == "MS650"));
    quiet("{{ messages[0]['content' }} hello {% if %}");
}

#[test]
fn bounds_are_reported_not_fatal() {
    let deep = format!("{{{{ {}1{} }}}}", "(".repeat(3000), ")".repeat(3000));
    let (_, rules) = worst(&deep);
    assert!(rules.contains(&"MS658"));
    let many = "{% set x = x ~ x ~ '_' %}".repeat(2000);
    let _ = analyse_template(&many, "t");
    let cat = format!(
        "{{{{ {} }}}}",
        vec!["'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'"; 90].join(" ~ ")
    );
    let _ = analyse_template(&cat, "t");
}

#[test]
fn detection_is_by_extension_of_text() {
    assert!(detect(b"{{ x }}", Some("jinja")));
    assert!(detect(b"{{ x }}", Some("j2")));
    assert!(!detect(b"{{ x }}", Some("txt")));
    assert!(!detect(b"\0\x01", Some("jinja")));
}

#[test]
fn rules_are_in_range_and_sorted() {
    let ids: Vec<&str> = RULES.iter().map(|r| r.id).collect();
    let mut sorted = ids.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(ids, sorted);
    assert!(ids.iter().all(|i| ("MS650"..="MS699").contains(i)));
}

#[test]
fn fuzz_entry_survives_garbage() {
    for s in [
        &b"{{"[..],
        b"{%",
        b"{#",
        b"{{ '\\",
        b"{% raw %}",
        b"{{ ((((",
        b"\xff\xfe{{ x }}",
        b"{% endfor %}{% else %}",
    ] {
        let _ = fuzz(s);
    }
}

fn fixtures(kind: &str) -> Vec<(String, String)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/formats/jinja");
    let manifest = std::fs::read_to_string(dir.join("MANIFEST.tsv")).expect("manifest");
    manifest
        .lines()
        .skip(1)
        .filter(|l| l.split('\t').nth(1) == Some(kind))
        .map(|l| {
            let rel = l.split('\t').next().unwrap_or_default().to_owned();
            let text = std::fs::read_to_string(dir.join(&rel)).expect("fixture");
            (rel, text)
        })
        .collect()
}

#[test]
fn real_chat_templates_give_no_issue_at_all() {
    for (rel, text) in fixtures("benign") {
        let issues = analyse_template(&text, &rel);
        assert!(issues.is_empty(), "{rel}: {issues:#?}");
    }
}

#[test]
fn fixtures_that_reach_internals_are_critical() {
    for (rel, text) in fixtures("malicious") {
        let (sev, rules) = worst(&text);
        let expect_critical = ![
            "request_args",
            "lipsum_string",
            "os_free",
            "eval_free",
            "include_path",
            "private_context",
            "hidden_built",
        ]
        .iter()
        .any(|p| rel.contains(p));
        if expect_critical {
            assert_eq!(sev, Severity::Critical, "{rel}: {rules:?}");
        } else {
            assert!(sev >= Severity::High, "{rel}: {rules:?}");
        }
    }
}

#[test]
fn self_nesting_values_stay_bounded() {
    let src = "{% set x = [x, x, x, x] %}{% set y = dict(a=y, b=y) %}{% set ns.z = [ns.z, ns.z] %}"
        .repeat(200);
    let _ = analyse_template(&src, "t");
    quiet("{% set p = 'See mod/__init__.py for ' ~ name %}{{ p }}");
    high("{% set p = '__ini' ~ 't__' %}");
}

#[test]
fn render_time_resource_exhaustion() {
    for src in [
        "{{ 'A' * (10 ** 12) }}",
        "{{ ['x'] * 1000000000 }}",
        "{% set n = 10 ** 10 %}{{ messages[0].content * n }}",
        "{{ 2 ** 10000000 }}",
        "{% for a in range(100000) %}{% for b in range(100000) %}.{% endfor %}{% endfor %}",
    ] {
        let (s, rules) = worst(src);
        assert!(
            s >= Severity::High && rules.contains(&"MS659"),
            "{src}: {rules:?}"
        );
    }
    for src in [
        "{{ '=' * 80 }}",
        "{{ '\\n' * (messages|length) }}",
        "{{ 2 ** 31 }}",
        "{% for i in range(10) %}{% for j in range(1000) %}{{ i * j }}{% endfor %}{% endfor %}",
        "{% for m in messages %}{% for i in range(100000) %}{% endfor %}{% endfor %}",
    ] {
        quiet(src);
    }
}

#[test]
fn format_map_fields_and_overflowing_powers() {
    critical("{{ '{x.__init__.__globals__}'.format_map({'x': cycler}) }}");
    let (s, rules) = worst("{{ 'A' * (2 ** 100) }}");
    assert!(s >= Severity::High && rules.contains(&"MS659"), "{rules:?}");
    quiet("{{ '{name}: {value}'.format_map(tool) }}");
    quiet("{{ 2 ** 100 }}");
}

#[test]
fn namespace_values_doubled_in_loops() {
    for src in [
        "{% set ns = namespace(s='A') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s }}",
        "{% set ns = namespace(s=['A']) %}{% for i in range(100) %}{% set ns.s = ns.s * 2 %}{% endfor %}",
    ] {
        let (s, rules) = worst(src);
        assert!(
            s >= Severity::High && rules.contains(&"MS659"),
            "{src}: {rules:?}"
        );
    }
    // Accumulating once per iteration is what real templates do.
    quiet(
        "{% set ns = namespace(s='') %}{% for i in range(100) %}{% set ns.s = ns.s ~ i %}{% endfor %}{{ ns.s }}",
    );
    quiet(
        "{% set ns = namespace(s='') %}{% for m in messages %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
    );
}
