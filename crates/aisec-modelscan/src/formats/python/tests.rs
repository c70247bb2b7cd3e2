//! Unit tests of the Python analyser, on hand-written sources.

use aisec_core::Severity;

use super::*;

fn issues(src: &str) -> Vec<(&'static str, Severity, String)> {
    analyse_source(src.as_bytes())
        .issues
        .into_iter()
        .map(|i| (i.rule, i.severity.unwrap_or(Severity::Info), i.title))
        .collect()
}

fn max(src: &str) -> Option<Severity> {
    issues(src).into_iter().map(|(_, s, _)| s).max()
}

fn has(src: &str, rule: &str, sev: Severity) -> bool {
    let found = issues(src);
    let ok = found.iter().any(|(r, s, _)| *r == rule && *s == sev);
    assert!(ok, "no {rule} at {sev:?} in {found:#?}");
    ok
}

#[test]
fn detects_by_extension_and_shebang() {
    assert!(detect(b"x = 1", Some("py")));
    assert!(detect(b"#!/usr/bin/env python3\nprint(1)", None));
    assert!(!detect(b"#!/bin/sh\necho", None));
    assert!(!detect(b"{\"a\": 1}", Some("json")));
}

#[test]
fn command_execution_through_aliases() {
    assert!(has(
        "import os\nos.system('echo aisec-fixture')",
        "MS850",
        Severity::Critical
    ));
    assert!(has(
        "import os as o\no.system('x')",
        "MS850",
        Severity::Critical
    ));
    assert!(has(
        "from subprocess import Popen as P\nP(['ls'])",
        "MS850",
        Severity::Critical
    ));
    assert!(has(
        "from os import *\nsystem('x')",
        "MS850",
        Severity::Critical
    ));
    assert!(has(
        "import subprocess\nf = subprocess.check_output\nf('x')",
        "MS850",
        Severity::Critical
    ));
    assert!(has(
        "__import__('os').system('x')",
        "MS850",
        Severity::Critical
    ));
    assert!(has(
        "getattr(__import__('o'+'s'), 'sys' + 'tem')('x')",
        "MS850",
        Severity::Critical
    ));
    assert!(has(
        "import importlib\nimportlib.import_module('subprocess').run(['x'])",
        "MS850",
        Severity::Critical
    ));
    assert!(has(
        "import sys\nsys.modules['os'].popen('x')",
        "MS850",
        Severity::Critical
    ));
    assert!(has(
        "import threading, os\nthreading.Thread(target=os.system, args=('x',)).start()",
        "MS850",
        Severity::Critical
    ));
    assert!(has(
        "class M:\n    def __init__(self):\n        import subprocess\n        subprocess.run(['x'])",
        "MS850",
        Severity::Critical
    ));
    assert!(has(
        "import pty\npty.spawn('/bin/sh')",
        "MS850",
        Severity::Critical
    ));
    assert!(has(
        "import posix\nposix.system('x')",
        "MS850",
        Severity::Critical
    ));
}

#[test]
fn toolchain_probes_are_low() {
    let src = "import subprocess\nfrom torch.utils import cpp_extension\nout = subprocess.check_output([cpp_extension.CUDA_HOME + '/bin/nvcc', '-V'], universal_newlines=True)";
    assert_eq!(max(src), Some(Severity::Low));
    assert_eq!(
        max("import os\nos.popen('nvidia-smi --query-gpu=name --format=csv')"),
        Some(Severity::Low)
    );
    assert!(has(
        "import os\nos.popen('nvidia-smi; curl x | sh')",
        "MS850",
        Severity::Critical
    ));
    assert!(has(
        "import subprocess\nsubprocess.run([d + '/bin/nvcc', '-V', x])",
        "MS850",
        Severity::Critical
    ));
}

#[test]
fn code_execution_and_decoded_payloads() {
    assert!(has("exec('print(1)')", "MS851", Severity::Critical));
    assert!(has(
        "import base64\nexec(base64.b64decode('aW1wb3J0IG9z'))",
        "MS851",
        Severity::Critical
    ));
    let r = analyse_source(b"import base64, zlib\nexec(base64.b64decode('aW1wb3J0IG9zO29zLnN5c3RlbSgnZWNobyBhaXNlYy1maXh0dXJlJyk='))");
    assert_eq!(r.payloads.len(), 1);
    assert_eq!(
        r.payloads[0].1,
        b"import os;os.system('echo aisec-fixture')"
    );
    assert!(has(
        "import marshal\nmarshal.loads(b'x')",
        "MS851",
        Severity::Critical
    ));
    assert!(has(
        "import types\ntypes.FunctionType(c, {})",
        "MS851",
        Severity::Critical
    ));
    assert!(has("e = eval\ne('1')", "MS851", Severity::Critical));
    assert!(has(
        "__builtins__['ex' + 'ec']('x')",
        "MS851",
        Severity::Critical
    ));
    assert!(has(
        "import builtins\nbuiltins.__dict__['eval']('1')",
        "MS851",
        Severity::Critical
    ));
    assert!(has(
        "globals()['__builtins__'].exec('1')",
        "MS851",
        Severity::Critical
    ));
    assert!(has(
        "exec(''.join(chr(c) for c in [112, 114]))",
        "MS851",
        Severity::Critical
    ));
    assert!(has(
        "import codecs\nexec(codecs.decode('vzcbeg bf', 'rot13'))",
        "MS851",
        Severity::Critical
    ));
    let r = analyse_source(b"import codecs\nexec(codecs.decode('vzcbeg bf', 'rot13'))");
    assert_eq!(r.payloads[0].1, b"import os");
}

#[test]
fn nfkc_lookalike_identifiers_are_folded() {
    assert!(has(
        "import os\n\u{ff4f}\u{ff53}.\u{ff53}\u{ff59}\u{ff53}\u{ff54}\u{ff45}\u{ff4d}('x')",
        "MS850",
        Severity::Critical
    ));
    assert!(has(
        "\u{1d41e}\u{1d431}\u{1d41e}\u{1d41c}('print(1)')",
        "MS851",
        Severity::Critical
    ));
    assert_eq!(max("x = '\u{4f60}\u{597d}\u{ff0c}'"), None);
}

#[test]
fn shadowed_builtins_and_methods_are_not_flagged() {
    assert_eq!(
        max("model.eval()\nx = re.compile('a')\ntorch.compile(m)"),
        None
    );
    assert_eq!(
        max("def f(compile=False):\n    if compile:\n        return compile"),
        None
    );
    assert_eq!(max("def eval(x):\n    return x\neval(3)"), None);
    assert_eq!(
        max(
            "import subprocess\nx = subprocess.PIPE\ntry:\n    pass\nexcept subprocess.CalledProcessError:\n    pass"
        ),
        None
    );
}

#[test]
fn obfuscated_lookups() {
    assert!(has(
        "import os\nn = input()\ngetattr(os, n)('x')",
        "MS853",
        Severity::High
    ));
    assert!(has(
        "().__class__.__bases__[0].__subclasses__()",
        "MS853",
        Severity::High
    ));
    assert!(has("x = __import__(name)", "MS852", Severity::High));
    assert!(has(
        "def f(name):\n    return __import__(name)",
        "MS852",
        Severity::Low
    ));
    assert_eq!(max("getattr(self, name)\ngetattr(torch.nn, act)()"), None);
}

#[test]
fn more_indirections() {
    assert!(has(
        "import os\nos.__getattribute__('system')('x')",
        "MS850",
        Severity::Critical
    ));
    assert!(has(
        "import os, operator\noperator.attrgetter('system')(os)('x')",
        "MS850",
        Severity::Critical
    ));
    assert!(has(
        "import pip\npip.main(['install', 'x'])",
        "MS850",
        Severity::Critical
    ));
    assert!(has(
        "import importlib.util\nfrom huggingface_hub import hf_hub_download\ndef f():\n    p = hf_hub_download('a/b', 'x.py')\n    spec = importlib.util.spec_from_file_location('x', p)\n    m = importlib.util.module_from_spec(spec)\n    spec.loader.exec_module(m)",
        "MS852",
        Severity::Critical
    ));
    assert!(has(
        "import requests\ndef f(cfg, x):\n    requests.post(cfg.url, json=x)",
        "MS855",
        Severity::High
    ));
}

#[test]
fn network_by_context() {
    assert!(has(
        "import requests\nrequests.get('http://127.0.0.1:8000/x')",
        "MS855",
        Severity::High
    ));
    assert!(has(
        "import requests\ndef f(u):\n    return requests.get(u)",
        "MS855",
        Severity::Low
    ));
    assert!(has(
        "import requests, os\ndef f(u):\n    requests.post(u, json=dict(os.environ))",
        "MS855",
        Severity::High
    ));
    assert!(has(
        "import socket\ndef f():\n    s = socket.socket()\n    s.connect(('127.0.0.1', 9))",
        "MS855",
        Severity::High
    ));
    assert!(has(
        "import urllib.request\nurllib.request.urlopen('http://127.0.0.1/')",
        "MS855",
        Severity::High
    ));
    assert!(has(
        "import os, requests\nrequests.post('http://127.0.0.1:9/', data=str(os.environ))",
        "MS857",
        Severity::High
    ));
    assert!(has(
        "from huggingface_hub import snapshot_download\nsnapshot_download('evil/repo')",
        "MS860",
        Severity::High
    ));
    assert!(has(
        "from huggingface_hub import hf_hub_download\ndef f():\n    hf_hub_download('a/b', 'c')",
        "MS860",
        Severity::Low
    ));
}

#[test]
fn import_time_through_calls() {
    // A function called at module level runs on import.
    assert!(has(
        "import requests\nURL = 'x'\ndef beacon():\n    requests.get(URL)\nbeacon()",
        "MS855",
        Severity::High
    ));
    // The __main__ block does not.
    assert!(has(
        "import requests\nif __name__ == '__main__':\n    requests.get(u)",
        "MS855",
        Severity::Low
    ));
}

#[test]
fn file_writes_and_credentials() {
    assert!(has(
        "import os\nopen(os.path.expanduser('~/.bashrc'), 'a').write('x')",
        "MS856",
        Severity::High
    ));
    assert!(has(
        "def f():\n    open('/etc/cron.d/x', 'w')",
        "MS856",
        Severity::High
    ));
    assert!(has(
        "with open('log.txt', 'w') as f:\n    f.write('x')",
        "MS856",
        Severity::High
    ));
    assert_eq!(
        max(
            "def save_vocabulary(self, d):\n    with open(os.path.join(d, 'vocab.json'), 'w') as f:\n        f.write('x')"
        ),
        None
    );
    assert!(has(
        "import shutil\nshutil.rmtree('/home')",
        "MS856",
        Severity::High
    ));
    assert!(has(
        "import os\nt = os.environ.get('HF_TOKEN')",
        "MS857",
        Severity::High
    ));
    assert!(has(
        "import os\nt = os.environ['AWS_SECRET_ACCESS_KEY']",
        "MS857",
        Severity::High
    ));
    assert!(has(
        "import os\nt = os.getenv('OPENAI_API_KEY')",
        "MS857",
        Severity::High
    ));
    assert!(has(
        "p = open('/root/.ssh/id_rsa').read()",
        "MS857",
        Severity::High
    ));
    assert!(has(
        "import os\nd = dict(os.environ)",
        "MS857",
        Severity::High
    ));
    assert_eq!(
        max(
            "import os\nr = int(os.environ.get('LOCAL_RANK', 0))\nos.environ['TOKENIZERS_PARALLELISM'] = 'false'\nif 'X' in os.environ:\n    pass"
        ),
        None
    );
}

#[test]
fn deserialization_by_context() {
    assert!(has(
        "import pickle, base64\npickle.loads(base64.b64decode('gASVAA=='))",
        "MS854",
        Severity::Critical
    ));
    assert!(has(
        "import torch\ndef f(p):\n    return torch.load(p)",
        "MS854",
        Severity::Low
    ));
    assert_eq!(
        max("import torch\ndef f(p):\n    return torch.load(p, weights_only=True)"),
        None
    );
    assert!(has(
        "import torch, urllib.request\ndef f(u):\n    return torch.load(urllib.request.urlopen(u))",
        "MS854",
        Severity::Critical
    ));
    assert!(has(
        "import pickle\nobj = pickle.load(open('x.pkl', 'rb'))",
        "MS854",
        Severity::High
    ));
    assert_eq!(max("import numpy as np\nx = np.load('a.npy')"), None);
}

#[test]
fn native_code_and_hooks() {
    assert!(has(
        "import ctypes\nctypes.CDLL('./x.so')",
        "MS858",
        Severity::High
    ));
    assert!(has(
        "import ctypes\nctypes.cdll.LoadLibrary('x')",
        "MS858",
        Severity::High
    ));
    assert!(has(
        "import cffi\nffi = cffi.FFI()\nffi.dlopen('x')",
        "MS858",
        Severity::High
    ));
    assert!(has(
        "from torch.utils import cpp_extension\ncpp_extension.load(name='k', sources=['k.cu'])",
        "MS858",
        Severity::Low
    ));
    assert!(has("import sys\nsys.settrace(t)", "MS859", Severity::High));
    assert!(has(
        "import sys\nsys.excepthook = h",
        "MS859",
        Severity::High
    ));
    assert!(has(
        "import atexit\natexit.register(f)",
        "MS859",
        Severity::Low
    ));
}

#[test]
fn benign_modeling_code_is_quiet() {
    let src = r#"
"""PyTorch Example model."""
import math
import os
import warnings
from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from torch import nn
from transformers.modeling_utils import PreTrainedModel
from transformers.utils import logging

from .configuration_example import ExampleConfig

logger = logging.get_logger(__name__)

try:
    from flash_attn import flash_attn_func
except ImportError:
    flash_attn_func = None


class ExampleAttention(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.scale = 1.0 / math.sqrt(config.hidden_size)
        self.act = getattr(F, config.hidden_act)

    def forward(self, x: torch.Tensor, mask: Optional[torch.Tensor] = None):
        if os.environ.get("EXAMPLE_DEBUG"):
            warnings.warn("debug")
        return self.act(x) * self.scale


class ExampleModel(PreTrainedModel):
    config_class = ExampleConfig

    def __init__(self, config):
        super().__init__(config)
        self.attn = ExampleAttention(config)
        self.eval()

    def _init_weights(self, module):
        if isinstance(module, nn.Linear):
            module.weight.data.normal_(mean=0.0, std=0.02)
"#;
    let r = analyse_source(src.as_bytes());
    assert!(
        r.issues.is_empty(),
        "{:#?}",
        r.issues.iter().map(|i| &i.title).collect::<Vec<_>>()
    );
    assert_eq!(r.relative_imports, vec!["configuration_example".to_owned()]);
}

#[test]
fn broken_source_is_reported_and_searched() {
    let r = analyse_source(b"import os\ndef f(:\n    os.system('x')\n");
    assert!(r.issues.iter().any(|i| i.rule == "MS861"));
    assert!(
        r.issues
            .iter()
            .any(|i| i.rule == "MS850" || i.rule == "MS862")
    );
    assert!(r.not_analysed.is_none());
}

#[test]
fn deep_nesting_does_not_overflow() {
    let mut s = String::from("x = ");
    s.push_str(&"(".repeat(50_000));
    s.push('1');
    s.push_str(&")".repeat(50_000));
    let _ = analyse_source(s.as_bytes());
    let mut s = String::new();
    for i in 0..3000 {
        s.push_str(&" ".repeat(i));
        s.push_str("if x:\n");
    }
    let _ = analyse_source(s.as_bytes());
    let s = format!("x = {}1", "-".repeat(100_000));
    let _ = analyse_source(s.as_bytes());
    let s = format!("x = a{}", ".b".repeat(100_000));
    let _ = analyse_source(s.as_bytes());
    let s = format!("x = {}'a'", "'a' + ".repeat(50_000));
    let _ = analyse_source(s.as_bytes());
}

#[test]
fn garbage_never_panics() {
    for data in [
        &b"\xff\xfe\x00"[..],
        b"",
        b"'''",
        b"f'{",
        b"\\x",
        b"exec(",
        b"import",
        b"from . import",
    ] {
        let _ = fuzz(data);
    }
}

#[test]
fn only_secret_environment_words_count() {
    assert_eq!(
        max(
            "import os\nos.environ.get('TOKENIZERS_PARALLELISM')\nx = os.environ['CUDA_VISIBLE_DEVICES']\nos.getenv('PWD')\nos.getenv('HF_HOME')"
        ),
        None
    );
    assert!(has(
        "import os\nos.getenv('WANDB_API_KEY')",
        "MS857",
        Severity::High
    ));
    assert!(has(
        "import os\nos.environ.get('HUGGING_FACE_HUB_TOKEN')",
        "MS857",
        Severity::High
    ));
}

#[test]
fn a_large_benign_file_stays_within_budget() {
    let one = include_str!("../../../tests/formats/hfrepo/benign/remote-code/modeling_example.py");
    let big = one.repeat(40);
    let r = analyse_source(big.as_bytes());
    assert!(r.not_analysed.is_none(), "{:?}", r.not_analysed);
    assert!(
        r.issues
            .iter()
            .all(|i| i.severity.unwrap_or(Severity::Low) < Severity::Medium),
        "{:#?}",
        r.issues.iter().map(|i| &i.title).collect::<Vec<_>>()
    );
}

#[test]
fn self_referencing_constants_do_not_explode() {
    let r = analyse_source(b"a = 'x'\na = a + a\nb = b + b + b\nexec(b)\nimport os\nos.system(a)");
    assert!(r.not_analysed.is_none());
    assert!(r.issues.iter().any(|i| i.rule == "MS850"));
}

#[test]
fn methods_are_not_module_functions_called_at_import() {
    let src = "import requests\nclass A:\n    def fetch(self, u):\n        return requests.get(u)\nfetch = lambda: 0\nfetch()";
    assert_eq!(max(src), Some(Severity::Low));
}

#[test]
fn builtins_chosen_by_a_conditional_expression() {
    let src = "_b = __builtins__ if isinstance(__builtins__, dict) else __builtins__.__dict__\n\
_b['ex' + 'ec']('print(1)')\n";
    assert!(max(src) >= Some(Severity::High), "{:#?}", issues(src));
    let src = "_b = getattr(__builtins__, '__dict__', None) or __builtins__\n_b['eval']('1')\n";
    assert!(max(src) >= Some(Severity::High), "{:#?}", issues(src));
}

#[test]
fn lambda_default_values_run_at_definition() {
    let src = "_f = lambda m=__import__(''.join(map(chr, [111, 115]))): getattr(m, 'sys' + 'tem')('id')\n_f()\n";
    assert!(max(src) >= Some(Severity::High), "{:#?}", issues(src));
}

#[test]
fn relative_dynamic_imports_of_the_own_package_stay_low() {
    let src = "import importlib\nfor n in ('a', 'b'):\n    importlib.import_module(f'.{n}', __package__)\n";
    assert!(max(src) < Some(Severity::Medium), "{:#?}", issues(src));
    let src = "import importlib\nfor n in ('a', 'b'):\n    importlib.import_module('.' + n, package=__name__)\n";
    assert!(max(src) < Some(Severity::Medium), "{:#?}", issues(src));
    // Absolute, or relative to another package: still high.
    let src =
        "import importlib\nfor n in ('a', 'b'):\n    importlib.import_module(n, __package__)\n";
    assert!(max(src) >= Some(Severity::High), "{:#?}", issues(src));
    let src =
        "import importlib\nfor n in ('a', 'b'):\n    importlib.import_module('.' + n, 'xml')\n";
    assert!(max(src) >= Some(Severity::High), "{:#?}", issues(src));
}

#[test]
fn import_hooks_are_reported() {
    let src = "import sys\nclass F:\n    def find_spec(self, *a):\n        return None\nsys.meta_path.insert(0, F())\n";
    assert!(max(src) >= Some(Severity::High), "{:#?}", issues(src));
    let src = "import sys\nsys.path_hooks.append(lambda p: None)\n";
    assert!(max(src) >= Some(Severity::High), "{:#?}", issues(src));
}

#[test]
fn methodcaller_calls_the_named_method() {
    let src = "import operator\nimport os\noperator.methodcaller('system', 'id')(os)\n";
    assert!(max(src) >= Some(Severity::High), "{:#?}", issues(src));
    let src =
        "import operator\nnames = ['a']\nprint(list(map(operator.methodcaller('upper'), names)))\n";
    assert!(max(src) < Some(Severity::Medium), "{:#?}", issues(src));
}

#[test]
fn namespace_mappings_read_with_get() {
    for src in [
        "_e = __builtins__.__dict__.get('ex' + 'ec')\n_e('print(1)')\n",
        "__builtins__.get('exec')('print(1)')\n",
        "import sys\nsys.modules.get('os').system('id')\n",
        "globals().get('__builtins__').__dict__.get('eval')('1')\n",
    ] {
        assert!(
            max(src) >= Some(Severity::High),
            "{src}: {:#?}",
            issues(src)
        );
    }
    let src = "config = {}\nvalue = config.get('exec')\n";
    assert!(max(src) < Some(Severity::Medium), "{:#?}", issues(src));
}

#[test]
fn setattr_on_builtins_is_a_hook() {
    let src = "import builtins\ndef spy(*a):\n    return None\nsetattr(builtins, 'open', spy)\n";
    assert!(max(src) >= Some(Severity::High), "{:#?}", issues(src));
    let src = "import sys\nsetattr(sys, 'excepthook', print)\n";
    assert!(max(src) >= Some(Severity::High), "{:#?}", issues(src));
    let src = "class C:\n    pass\nc = C()\nsetattr(c, 'open', 1)\n";
    assert!(max(src) < Some(Severity::Medium), "{:#?}", issues(src));
}
