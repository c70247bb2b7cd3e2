//! Static analysis of a parsed template: an abstract evaluation that folds string building
//! (`~`, `+`, `*`, `%`, `format`, `join`, `replace`, `reverse`, slices, escapes, `dict(...)` keys,
//! macro output, `set` blocks) and follows values through `set`, `for`, `with`, namespaces and macro
//! arguments, then records, per tag, every attribute reached, whatever way it was spelled.
//!
//! Nothing is rendered: values are sets of possible strings, numbers and lists, or "unknown". The
//! evaluation is flow-insensitive (every assignment adds a possibility) and runs a few passes so
//! that loops and later assignments reach earlier uses.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;

use super::lexer::{Piece, Span, Tok};
use super::parser::{Expr, ExprKind, Stmt, StmtKind, Target, Template};

/// Most alternatives one value keeps before it degrades to "some string".
const MAX_ALT: usize = 16;
/// Longest folded string kept.
const MAX_STR: usize = 2048;
/// Most list elements kept.
const MAX_LIST: usize = 64;
/// Bytes of folded strings one pass may produce; past it, folding stops.
const WORK_BUDGET: usize = 8 << 20;
/// Passes over the template (the last one records).
const PASSES: usize = 4;

/// Dunder names that lead to code execution from a template (object graph walking, globals,
/// builtins, import, code objects, pickling hooks).
pub(crate) const DANGEROUS_DUNDERS: &[&str] = &[
    "__base__",
    "__bases__",
    "__builtins__",
    "__call__",
    "__class__",
    "__class_getitem__",
    "__closure__",
    "__code__",
    "__context__",
    "__cause__",
    "__defaults__",
    "__delattr__",
    "__dict__",
    "__func__",
    "__getattr__",
    "__getattribute__",
    "__getitem__",
    "__globals__",
    "__import__",
    "__init__",
    "__init_subclass__",
    "__kwdefaults__",
    "__loader__",
    "__mro__",
    "__module__",
    "__new__",
    "__reduce__",
    "__reduce_ex__",
    "__self__",
    "__setattr__",
    "__spec__",
    "__subclasses__",
    "__subclasshook__",
    "__traceback__",
    "__wrapped__",
];

/// Attributes without double underscores that reach frames, globals or code.
pub(crate) const INTERNALS: &[&str] = &[
    "ag_code",
    "ag_frame",
    "co_code",
    "co_consts",
    "co_names",
    "cr_code",
    "cr_frame",
    "f_back",
    "f_builtins",
    "f_code",
    "f_globals",
    "f_locals",
    "func_closure",
    "func_code",
    "func_globals",
    "gi_code",
    "gi_frame",
    "im_class",
    "im_func",
    "im_self",
    "mro",
    "tb_frame",
    "tb_next",
];

/// Names that, reached after an internal, mean a command, code, import or file operation.
const SINKS: &[&str] = &[
    "CDLL",
    "Popen",
    "builtins",
    "call",
    "check_call",
    "check_output",
    "compile",
    "ctypes",
    "environ",
    "eval",
    "exec",
    "execl",
    "execv",
    "execve",
    "execvp",
    "getenv",
    "getoutput",
    "getstatusoutput",
    "import_module",
    "importlib",
    "linecache",
    "listdir",
    "load_module",
    "loads",
    "marshal",
    "modules",
    "nt",
    "open",
    "os",
    "pickle",
    "platform",
    "popen",
    "posix",
    "pty",
    "read",
    "remove",
    "rmdir",
    "run",
    "shutil",
    "socket",
    "spawnl",
    "spawnv",
    "subprocess",
    "sys",
    "system",
    "unlink",
    "urlopen",
    "walk",
    "write",
    "__import__",
    "__builtins__",
];

/// Jinja and Flask globals that SSTI payloads start from.
const GADGETS: &[&str] = &[
    "config",
    "cycler",
    "dict",
    "g",
    "get_flashed_messages",
    "joiner",
    "lipsum",
    "namespace",
    "range",
    "request",
    "self",
    "session",
    "url_for",
];

/// Python builtins and modules that no Jinja environment provides; calling one is an attack.
const BUILTINS: &[&str] = &[
    "__builtins__",
    "__import__",
    "breakpoint",
    "builtins",
    "compile",
    "delattr",
    "eval",
    "exec",
    "getattr",
    "globals",
    "importlib",
    "locals",
    "open",
    "os",
    "posix",
    "pty",
    "setattr",
    "shutil",
    "socket",
    "subprocess",
    "sys",
];

/// How an attribute name was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Spelling {
    /// `x.__class__`
    Attribute,
    /// `x['__class__']`
    Subscript,
    /// Built from parts, escapes or another variable.
    Computed,
    /// `|attr(...)`, `map(attribute=...)`, `selectattr(...)`.
    Filter,
    /// A field of a `str.format` template (`'{0.__class__}'`).
    FormatField,
    /// A name token the parser did not place (keyword names, broken tags).
    Token,
}

impl Spelling {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Spelling::Attribute => "attribute",
            Spelling::Subscript => "subscript",
            Spelling::Computed => "computed",
            Spelling::Filter => "filter",
            Spelling::FormatField => "format-field",
            Spelling::Token => "token",
        }
    }
}

/// What one tag does that matters.
#[derive(Debug, Default, Clone)]
pub(crate) struct Report {
    /// Offset of the first thing recorded.
    pub first: Option<u32>,
    /// Internal attributes reached, with how they were spelled.
    pub internals: BTreeMap<String, BTreeSet<Spelling>>,
    /// Private (`_x`) attributes read.
    pub private: BTreeSet<String>,
    /// Sinks reached through internals.
    pub sinks: BTreeSet<String>,
    /// Helper globals used with attribute access.
    pub gadgets: BTreeSet<String>,
    /// Python builtins or modules called or dereferenced by name.
    pub builtins: BTreeSet<String>,
    /// Attribute lookups whose name could not be resolved.
    pub dynamic: BTreeSet<String>,
    /// Folded strings that name internals.
    pub strings: BTreeSet<String>,
    /// A literal spells identifier characters with escapes.
    pub obfuscated: bool,
    /// Templates loaded (`include`, `import`, `extends`), and whether any is a path.
    pub loads: BTreeSet<String>,
    pub load_path: bool,
    /// A tag that did not parse holds tokens used to build names.
    pub broken_suspicious: bool,
    /// Render-time resource exhaustion: what blows up (`'A' * 10**12`, `9**9**9`, nested loops).
    pub exhaustion: BTreeSet<String>,
}

impl Report {
    fn at(&mut self, off: u32) {
        self.first = Some(self.first.map_or(off, |f| f.min(off)));
    }
}

/// An abstract value.
#[derive(Debug, Clone, PartialEq)]
enum Val {
    Unknown,
    Str(String),
    /// A string only partly known; true when it may contain `_`.
    Partial(bool),
    Int(i64),
    List(Vec<Val>),
    /// Known string keys (from `dict(a=…)`, `{'a': …}`, `namespace(a=…)`).
    Dict(Vec<(String, Val)>),
    /// An object reached from a helper global or an internal; `internal` once past an internal.
    Obj {
        internal: bool,
    },
    /// A helper global (`cycler`, `lipsum` …) not shadowed by the template.
    Gadget(String),
    /// A Python builtin or module name not shadowed by the template.
    Builtin(String),
    /// A bound method of a known string (`'{}'.format`).
    Method(Box<Val>, String),
    /// One of several values.
    Alt(Vec<Val>),
}

impl Val {
    fn alts(&self) -> &[Val] {
        match self {
            Val::Alt(v) => v,
            other => std::slice::from_ref(other),
        }
    }

    fn underscore(&self) -> bool {
        match self {
            Val::Str(s) => s.contains('_'),
            Val::Partial(u) => *u,
            Val::List(v) | Val::Alt(v) => v.iter().any(Val::underscore),
            Val::Dict(v) => v.iter().any(|(k, v)| k.contains('_') || v.underscore()),
            Val::Obj { .. } | Val::Gadget(_) | Val::Builtin(_) | Val::Method(..) => true,
            Val::Int(_) | Val::Unknown => false,
        }
    }

    fn strs(&self) -> impl Iterator<Item = &str> {
        self.alts().iter().filter_map(|v| match v {
            Val::Str(s) => Some(s.as_str()),
            _ => None,
        })
    }
}

/// Builds a value of alternatives, flattened, deduplicated and bounded.
fn alt(items: impl IntoIterator<Item = Val>) -> Val {
    let mut out: Vec<Val> = Vec::new();
    for v in items {
        for a in v.alts() {
            if !out.contains(a) {
                out.push(a.clone());
            }
        }
        if out.len() > MAX_ALT {
            let u = out.iter().any(Val::underscore);
            return Val::Partial(u);
        }
    }
    match out.len() {
        0 => Val::Unknown,
        1 => out.pop().unwrap_or(Val::Unknown),
        _ => Val::Alt(out),
    }
}

/// Classifies an attribute name.
pub(crate) fn is_dunder(n: &str) -> bool {
    n.len() > 4 && n.starts_with("__") && n.ends_with("__")
}

pub(crate) fn is_internal(n: &str) -> bool {
    is_dunder(n) || INTERNALS.contains(&n)
}

/// True when a folded string names an internal somewhere in it.
fn names_internal(s: &str) -> bool {
    // Only name-like strings: prose that mentions `__init__.py` is not a payload.
    let s = s.trim();
    let name_like = s
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "_.[]'\"".contains(c));
    name_like
        && (DANGEROUS_DUNDERS.iter().any(|d| s.contains(d))
            || s.contains("_TemplateReference__context")
            || INTERNALS.iter().any(|i| i.contains('_') && s == *i))
}

/// The analysis state.
pub(crate) struct Analyser {
    tags: Vec<Span>,
    env: HashMap<String, Val>,
    macros: HashMap<String, Vec<String>>,
    macro_out: HashMap<String, Val>,
    hole: Val,
    recording: bool,
    work: usize,
    pub(crate) budget_hit: bool,
    pub(crate) reports: BTreeMap<u32, (Span, Report)>,
    /// Iterations of the enclosing constant-size loops, multiplied.
    loop_iterations: u64,
}

impl Analyser {
    pub(crate) fn new(tags: Vec<Span>) -> Self {
        Self {
            tags,
            env: HashMap::new(),
            macros: HashMap::new(),
            macro_out: HashMap::new(),
            hole: Val::Unknown,
            recording: false,
            work: 0,
            budget_hit: false,
            reports: BTreeMap::new(),
            loop_iterations: 1,
        }
    }

    /// The lexical checks, on every tag's tokens.
    pub(crate) fn lexical(&mut self, pieces: &[Piece]) {
        self.recording = true;
        for p in pieces {
            let Piece::Tag { tokens, .. } = p else {
                continue;
            };
            for t in tokens {
                match &t.tok {
                    Tok::Name(n)
                        if DANGEROUS_DUNDERS.contains(&n.as_str())
                            || INTERNALS.contains(&n.as_str()) && n != "mro" =>
                    {
                        let r = self.report(t.span.start);
                        r.internals
                            .entry(n.clone())
                            .or_default()
                            .insert(Spelling::Token);
                    }
                    Tok::Str {
                        obfuscated: true, ..
                    } => {
                        self.report(t.span.start).obfuscated = true;
                    }
                    _ => {}
                }
            }
        }
        self.recording = false;
    }

    /// Runs the passes over a parsed template.
    pub(crate) fn run(&mut self, t: &Template) {
        collect_macros(&t.body, &mut self.macros, 0);
        for pass in 0..PASSES {
            self.recording = pass + 1 == PASSES;
            self.work = 0;
            self.block(&t.body, false);
        }
    }

    /// The length of `range(…)` with constant arguments.
    fn range_len(&mut self, iter: &Expr) -> Option<u64> {
        let ExprKind::Call { func, args, .. } = &iter.kind else {
            return None;
        };
        if !matches!(&func.kind, ExprKind::Name(n) if n == "range") || args.len() > 3 {
            return None;
        }
        let mut v = Vec::new();
        for a in args {
            match self.eval(a) {
                Val::Int(i) => v.push(i128::from(i)),
                _ => return None,
            }
        }
        let (start, stop, step) = match v.as_slice() {
            [stop] => (0, *stop, 1),
            [start, stop] => (*start, *stop, 1),
            [start, stop, step] if *step != 0 => (*start, *stop, *step),
            _ => return None,
        };
        let n = (stop - start + step - step.signum()) / step;
        Some(u64::try_from(n.max(0)).unwrap_or(u64::MAX))
    }

    fn report(&mut self, off: u32) -> &mut Report {
        let idx = self.tags.partition_point(|s| s.start <= off);
        let tag = idx
            .checked_sub(1)
            .and_then(|i| self.tags.get(i))
            .copied()
            .unwrap_or(Span {
                start: off,
                end: off,
            });
        let (_, r) = self
            .reports
            .entry(tag.start)
            .or_insert_with(|| (tag, Report::default()));
        r.at(off);
        r
    }

    fn record(&mut self, off: u32, f: impl FnOnce(&mut Report)) {
        if self.recording {
            f(self.report(off));
        }
    }

    // ----- statements ---------------------------------------------------------------------------

    /// Evaluates a block; returns its output when `want` (text and `{{ }}` values concatenated).
    fn block(&mut self, body: &[Stmt], want: bool) -> Val {
        let mut out = Val::Str(String::new());
        for s in body {
            let v = self.stmt(s, want);
            if want {
                out = self.concat(&out, &v);
            }
        }
        out
    }

    #[allow(clippy::too_many_lines)]
    fn stmt(&mut self, s: &Stmt, want: bool) -> Val {
        let empty = Val::Str(String::new());
        match &s.kind {
            StmtKind::Text(t) => {
                if want {
                    let trimmed = t.trim();
                    if trimmed.len() == t.len() {
                        Val::Str(t.clone())
                    } else {
                        alt([Val::Str(t.clone()), Val::Str(trimmed.to_owned())])
                    }
                } else {
                    empty
                }
            }
            StmtKind::Output(e) => {
                let v = self.eval(e);
                Self::stringify(&v)
            }
            StmtKind::If { branches } => {
                let mut outs = Vec::new();
                for (cond, body) in branches {
                    if let Some(c) = cond {
                        self.eval(c);
                    }
                    outs.push(self.block(body, want));
                }
                if branches.iter().all(|(c, _)| c.is_some()) {
                    outs.push(empty);
                }
                if want { alt(outs) } else { Val::Unknown }
            }
            StmtKind::For {
                target,
                iter,
                filter,
                body,
                else_body,
            } => {
                let v = self.eval(iter);
                let el = elements(&v);
                self.assign(target, el);
                if let Some(f) = filter {
                    self.eval(f);
                }
                let outer = self.loop_iterations;
                if let Some(n) = self.range_len(iter) {
                    self.loop_iterations = outer.saturating_mul(n.max(1));
                    if self.loop_iterations > MAX_RENDER_ITERATIONS
                        && outer <= MAX_RENDER_ITERATIONS
                    {
                        let what = format!("nested loops of {} iterations", self.loop_iterations);
                        self.record(iter.span.start, |r| {
                            r.exhaustion.insert(what);
                        });
                    }
                }
                let b = self.block(body, want);
                self.loop_iterations = outer;
                let e = self.block(else_body, want);
                if want {
                    let u = b.underscore() || e.underscore();
                    alt([b, e, Val::Partial(u)])
                } else {
                    Val::Unknown
                }
            }
            StmtKind::Set { target, value } => {
                // `{% set ns.s = ns.s ~ ns.s %}` in a loop: the value doubles every iteration.
                if self.loop_iterations >= 30
                    && let Target::Ns(ns, attr) = target
                    && self_uses(value, ns, attr) >= 2
                {
                    let what = format!(
                        "`{ns}.{attr}` doubled on each of {} loop iterations",
                        self.loop_iterations
                    );
                    self.record(value.span.start, |r| {
                        r.exhaustion.insert(what);
                    });
                }
                let v = self.eval(value);
                self.assign(target, v);
                empty
            }
            StmtKind::SetBlock {
                target,
                filter,
                body,
            } => {
                let mut v = self.block(body, true);
                if let Some(f) = filter {
                    self.hole = v;
                    v = self.eval(f);
                }
                self.assign(target, v);
                empty
            }
            StmtKind::Macro { name, params, body } => {
                for (p, d) in params {
                    let v = match d {
                        Some(d) => self.eval(d),
                        None => Val::Unknown,
                    };
                    self.bind(p, v);
                }
                self.bind("caller", Val::Unknown);
                let v = self.block(body, true);
                let prev = self
                    .macro_out
                    .remove(name)
                    .unwrap_or(Val::Str(String::new()));
                let joined = if prev == Val::Str(String::new()) {
                    v
                } else {
                    alt([prev, v])
                };
                self.macro_out.insert(name.clone(), joined);
                empty
            }
            StmtKind::CallBlock { params, call, body } => {
                for (p, d) in params {
                    let v = match d {
                        Some(d) => self.eval(d),
                        None => Val::Unknown,
                    };
                    self.bind(p, v);
                }
                let b = self.block(body, true);
                let v = self.eval(call);
                if want {
                    alt([v, Val::Partial(b.underscore())])
                } else {
                    empty
                }
            }
            StmtKind::FilterBlock { filter, body } => {
                self.hole = self.block(body, true);
                let v = self.eval(filter);
                Self::stringify(&v)
            }
            StmtKind::With { bindings, body } => {
                for (t, e) in bindings {
                    let v = self.eval(e);
                    self.assign(t, v);
                }
                self.block(body, want)
            }
            StmtKind::Block { args, body, .. } => {
                for a in args {
                    self.eval(a);
                }
                self.block(body, want)
            }
            StmtKind::Load { tag, template } => {
                let v = self.eval(template);
                let names: Vec<String> = v.strs().map(str::to_owned).collect();
                let path = names.is_empty()
                    || names
                        .iter()
                        .any(|n| n.contains('/') || n.contains('\\') || n.contains(".."));
                let shown = if names.is_empty() {
                    vec![format!("{tag} <computed>")]
                } else {
                    names.iter().map(|n| format!("{tag} {n}")).collect()
                };
                self.record(template.span.start, |r| {
                    r.loads.extend(shown);
                    r.load_path |= path;
                });
                Val::Partial(true)
            }
            StmtKind::Other { exprs, .. } => {
                for e in exprs {
                    self.eval(e);
                }
                empty
            }
            StmtKind::Broken { tokens } => {
                let suspicious = tokens.iter().any(|t| match &t.tok {
                    Tok::Name(n) => n == "attr" || n == "__getattribute__",
                    Tok::Str { value, .. } => value.contains("__"),
                    _ => false,
                });
                if suspicious {
                    self.record(s.span.start, |r| r.broken_suspicious = true);
                }
                Val::Partial(true)
            }
        }
    }

    fn bind(&mut self, name: &str, v: Val) {
        let joined = match self.env.remove(name) {
            Some(prev) if prev != v => alt([prev, v]),
            _ => v,
        };
        self.env.insert(name.to_owned(), joined);
    }

    fn assign(&mut self, t: &Target, v: Val) {
        match t {
            Target::Name(n) => self.bind(n, v),
            Target::Ns(n, a) => self.bind(&format!("{n}.{a}"), v),
            Target::Tuple(ts) => {
                for (i, t) in ts.iter().enumerate() {
                    let part = alt(v.alts().iter().map(|a| match a {
                        Val::List(items) if items.len() == ts.len() => {
                            items.get(i).cloned().unwrap_or(Val::Unknown)
                        }
                        _ => Val::Unknown,
                    }));
                    self.assign(t, part);
                }
            }
        }
    }

    // ----- expressions --------------------------------------------------------------------------

    fn eval(&mut self, e: &Expr) -> Val {
        let v = self.eval_inner(e);
        if self.recording {
            let found: Vec<String> = v
                .strs()
                .filter(|s| names_internal(s))
                .map(str::to_owned)
                .collect();
            let computed = !matches!(e.kind, ExprKind::Name(_));
            if !found.is_empty() && computed {
                let exact_literal = matches!(&e.kind, ExprKind::Str(s) if !(is_internal(s) || s == "_TemplateReference__context"));
                if !exact_literal {
                    self.record(e.span.start, |r| r.strings.extend(found));
                }
            }
        }
        v
    }

    #[allow(clippy::too_many_lines)]
    fn eval_inner(&mut self, e: &Expr) -> Val {
        match &e.kind {
            ExprKind::Name(n) => self.lookup(n),
            ExprKind::Str(s) => self.string(s.clone()),
            ExprKind::Int(i) => i.map_or(Val::Unknown, Val::Int),
            ExprKind::Other => Val::Unknown,
            ExprKind::Hole => self.hole.clone(),
            ExprKind::List(v) | ExprKind::Tuple(v) => {
                let items: Vec<Val> = v.iter().map(|x| self.eval(x)).collect();
                list(items)
            }
            ExprKind::Dict(kv) => {
                let mut out = Vec::new();
                for (k, v) in kv {
                    let kv_ = self.eval(k);
                    let vv = self.eval(v);
                    if let Val::Str(s) = kv_ {
                        out.push((s, vv));
                    }
                }
                out.truncate(MAX_LIST);
                cap(Val::Dict(out))
            }
            ExprKind::Attr(base, name) => {
                if let ExprKind::Name(n) = &base.kind
                    && let Some(v) = self.env.get(&format!("{n}.{name}"))
                {
                    let v = v.clone();
                    let b = self.eval(base);
                    let via = self.access(
                        &b,
                        &Val::Str(name.clone()),
                        Spelling::Attribute,
                        e.span.start,
                    );
                    return alt([v, via]);
                }
                let b = self.eval(base);
                self.access(
                    &b,
                    &Val::Str(name.clone()),
                    Spelling::Attribute,
                    e.span.start,
                )
            }
            ExprKind::Item(base, idx) => {
                let b = self.eval(base);
                if let ExprKind::Slice(lo, hi, step) = &idx.kind {
                    let lo = lo.as_ref().map(|x| self.eval(x));
                    let hi = hi.as_ref().map(|x| self.eval(x));
                    let step = step.as_ref().map(|x| self.eval(x));
                    return map1(&b, |v| slice(v, lo.as_ref(), hi.as_ref(), step.as_ref()));
                }
                let k = self.eval(idx);
                let spelling = if matches!(idx.kind, ExprKind::Str(_)) {
                    Spelling::Subscript
                } else {
                    Spelling::Computed
                };
                self.subscript(&b, &k, spelling, e.span.start)
            }
            ExprKind::Slice(..) => Val::Unknown,
            ExprKind::Call { func, args, kwargs } => {
                let argv: Vec<Val> = args.iter().map(|a| self.eval(a)).collect();
                let kwv: Vec<(String, Val)> = kwargs
                    .iter()
                    .map(|(k, v)| (k.clone(), self.eval(v)))
                    .collect();
                if let ExprKind::Name(n) = &func.kind
                    && !self.env.contains_key(n)
                    && let Some(params) = self.macros.get(n).cloned()
                {
                    for (i, a) in argv.iter().enumerate() {
                        if let Some(p) = params.get(i) {
                            self.bind(p, a.clone());
                        }
                    }
                    for (k, v) in &kwv {
                        if params.contains(k) {
                            self.bind(k, v.clone());
                        }
                    }
                    return self.macro_out.get(n).cloned().unwrap_or(Val::Partial(true));
                }
                let f = self.eval(func);
                self.call(&f, &argv, &kwv, e.span.start)
            }
            ExprKind::Filter {
                expr,
                name,
                args,
                kwargs,
            } => {
                let v = self.eval(expr);
                let argv: Vec<Val> = args.iter().map(|a| self.eval(a)).collect();
                let kwv: Vec<(String, Val)> = kwargs
                    .iter()
                    .map(|(k, v)| (k.clone(), self.eval(v)))
                    .collect();
                self.filter(&v, name, &argv, &kwv, e.span.start, args)
            }
            ExprKind::Test { expr, args, .. } => {
                self.eval(expr);
                for a in args {
                    self.eval(a);
                }
                Val::Unknown
            }
            ExprKind::Binary(op, l, r) => {
                let a = self.eval(l);
                let b = self.eval(r);
                if let Some(what) = exhaustion(op, &a, &b) {
                    self.record(e.span.start, |r| {
                        r.exhaustion.insert(what);
                    });
                }
                self.binary(op, &a, &b)
            }
            ExprKind::Unary(op, x) => {
                let v = self.eval(x);
                match (*op, v) {
                    ("-", Val::Int(i)) => i.checked_neg().map_or(Val::Unknown, Val::Int),
                    ("+", v @ Val::Int(_)) => v,
                    _ => Val::Unknown,
                }
            }
            ExprKind::Cond(test, a, b) => {
                self.eval(test);
                let x = self.eval(a);
                let y = b.as_ref().map_or(Val::Str(String::new()), |b| self.eval(b));
                alt([x, y])
            }
        }
    }

    fn lookup(&self, n: &str) -> Val {
        if let Some(v) = self.env.get(n) {
            return v.clone();
        }
        if GADGETS.contains(&n) {
            Val::Gadget(n.to_owned())
        } else if BUILTINS.contains(&n) {
            Val::Builtin(n.to_owned())
        } else {
            Val::Unknown
        }
    }

    /// Charges the work budget for a produced string; past it, strings stop being folded.
    fn string(&mut self, s: String) -> Val {
        if s.len() > MAX_STR {
            return Val::Partial(s.contains('_'));
        }
        self.work = self.work.saturating_add(s.len() + 1);
        if self.work > WORK_BUDGET {
            self.budget_hit = true;
            return Val::Partial(s.contains('_'));
        }
        Val::Str(s)
    }

    /// An attribute lookup (`.name`, `|attr(name)`, `attribute=`): records what it reaches.
    fn access(&mut self, base: &Val, name: &Val, spelling: Spelling, off: u32) -> Val {
        let mut results = Vec::new();
        for n in name.alts() {
            match n {
                Val::Str(s) => {
                    // `map(attribute='a.b')` and friends walk dotted paths.
                    let mut cur = base.clone();
                    let parts: Vec<&str> = if spelling == Spelling::Filter {
                        s.split('.').collect()
                    } else {
                        vec![s.as_str()]
                    };
                    for part in parts {
                        cur = self.access_one(&cur, part, spelling, off);
                    }
                    results.push(cur);
                }
                Val::Int(i) => results.push(self.subscript(base, &Val::Int(*i), spelling, off)),
                other => {
                    let desc = match other {
                        Val::Partial(true) => "a name built from parts that contain `_`",
                        Val::Partial(false) => "a name built from parts",
                        _ => "a name the template computes at render time",
                    };
                    self.record(off, |r| {
                        r.dynamic.insert(desc.to_owned());
                    });
                    results.push(Val::Obj { internal: false });
                }
            }
        }
        alt(results)
    }

    fn access_one(&mut self, base: &Val, n: &str, spelling: Spelling, off: u32) -> Val {
        let internal = is_internal(n);
        let tainted = base
            .alts()
            .iter()
            .any(|b| matches!(b, Val::Obj { internal: true }));
        let spelled = spelling;
        if internal {
            self.record(off, |r| {
                r.internals.entry(n.to_owned()).or_default().insert(spelled);
            });
        } else if n.starts_with('_') && spelling != Spelling::Subscript {
            self.record(off, |r| {
                r.private.insert(n.to_owned());
            });
        }
        if tainted && SINKS.contains(&n) {
            self.record(off, |r| {
                r.sinks.insert(n.to_owned());
            });
        }
        let mut out = Vec::new();
        for b in base.alts() {
            let v = match b {
                Val::Gadget(g) => {
                    let g = g.clone();
                    self.record(off, |r| {
                        r.gadgets.insert(g);
                    });
                    Val::Obj { internal }
                }
                Val::Builtin(bn) => {
                    let bn = bn.clone();
                    self.record(off, |r| {
                        r.builtins.insert(bn);
                    });
                    Val::Obj { internal: true }
                }
                Val::Obj { internal: t } => Val::Obj {
                    internal: *t || internal,
                },
                _ if internal => Val::Obj { internal: true },
                Val::Dict(kv) => kv
                    .iter()
                    .find(|(k, _)| k == n)
                    .map_or(Val::Unknown, |(_, v)| v.clone()),
                Val::Str(_) | Val::Partial(_) if STR_METHODS.contains(&n) => {
                    Val::Method(Box::new(b.clone()), n.to_owned())
                }
                _ => Val::Unknown,
            };
            out.push(v);
        }
        alt(out)
    }

    fn subscript(&mut self, base: &Val, key: &Val, spelling: Spelling, off: u32) -> Val {
        let mut out = Vec::new();
        for k in key.alts() {
            match k {
                Val::Str(s) => out.push(self.access_one(base, s, spelling, off)),
                Val::Int(i) => out.push(map1(base, |b| index(b, *i))),
                Val::Partial(true) => {
                    self.record(off, |r| {
                        r.dynamic
                            .insert("a subscript key built from parts that contain `_`".to_owned());
                    });
                    out.push(Val::Obj { internal: false });
                }
                _ => {
                    let tainted = base
                        .alts()
                        .iter()
                        .any(|b| matches!(b, Val::Obj { internal: true }));
                    out.push(if tainted {
                        Val::Obj { internal: true }
                    } else {
                        map1(base, |b| match b {
                            Val::Str(_) | Val::Partial(_) => Val::Partial(b.underscore()),
                            Val::List(v) => alt(v.iter().cloned()),
                            _ => Val::Unknown,
                        })
                    });
                }
            }
        }
        alt(out)
    }

    fn call(&mut self, f: &Val, args: &[Val], kwargs: &[(String, Val)], off: u32) -> Val {
        let mut out = Vec::new();
        for fv in f.alts() {
            let v = match fv {
                Val::Obj { internal } => Val::Obj {
                    internal: *internal,
                },
                Val::Builtin(b) => {
                    let b = b.clone();
                    self.record(off, |r| {
                        r.builtins.insert(b);
                    });
                    Val::Obj { internal: true }
                }
                Val::Gadget(g) => match g.as_str() {
                    "dict" | "namespace" => {
                        let mut kv: Vec<(String, Val)> =
                            kwargs.iter().filter(|(k, _)| k != "*").cloned().collect();
                        kv.truncate(MAX_LIST);
                        cap(Val::Dict(kv))
                    }
                    "lipsum" => Val::Partial(false),
                    "range" | "cycler" | "joiner" => Val::Unknown,
                    other => {
                        let other = other.to_owned();
                        self.record(off, |r| {
                            r.gadgets.insert(other);
                        });
                        Val::Obj { internal: false }
                    }
                },
                Val::Method(recv, m) => self.method(recv, m, args, off),
                _ => Val::Unknown,
            };
            out.push(v);
        }
        alt(out)
    }

    /// `str` methods on a known string.
    fn method(&mut self, recv: &Val, m: &str, args: &[Val], off: u32) -> Val {
        let arg = |i: usize| args.get(i).cloned().unwrap_or(Val::Unknown);
        match m {
            // `format_map` reads the same replacement fields (`{x.__init__.__globals__}`).
            "format" | "format_map" => {
                let mut out = Vec::new();
                for r in recv.alts() {
                    out.push(match r {
                        Val::Str(s) => self.str_format(s, args, off),
                        other => Val::Partial(other.underscore()),
                    });
                }
                alt(out)
            }
            "join" => {
                let items = arg(0);
                self.join(&items, recv)
            }
            "replace" => self.replace(recv, &arg(0), &arg(1)),
            _ => self.filter_simple(recv, m),
        }
    }

    /// `'{0.__class__}'.format(x)`: field names can walk attributes.
    fn str_format(&mut self, fmt: &str, args: &[Val], off: u32) -> Val {
        let mut out = Val::Str(String::new());
        let mut auto = 0usize;
        let mut chars = fmt.chars().peekable();
        let mut lit = String::new();
        while let Some(c) = chars.next() {
            match c {
                '{' if chars.peek() == Some(&'{') => {
                    chars.next();
                    lit.push('{');
                }
                '}' if chars.peek() == Some(&'}') => {
                    chars.next();
                    lit.push('}');
                }
                '{' => {
                    let mut field = String::new();
                    for d in chars.by_ref() {
                        if d == '}' {
                            break;
                        }
                        field.push(d);
                    }
                    let field = field.split(['!', ':']).next().unwrap_or("").to_owned();
                    let (head, rest) = match field.find(['.', '[']) {
                        Some(i) => field.split_at(i),
                        None => (field.as_str(), ""),
                    };
                    let mut v = if head.is_empty() {
                        auto += 1;
                        args.get(auto - 1).cloned().unwrap_or(Val::Unknown)
                    } else if let Ok(i) = head.parse::<usize>() {
                        args.get(i).cloned().unwrap_or(Val::Unknown)
                    } else {
                        Val::Unknown
                    };
                    for part in rest.split(['.', '[', ']']).filter(|p| !p.is_empty()) {
                        v = self.access_one(&v, part, Spelling::FormatField, off);
                    }
                    let s = Self::stringify(&v);
                    out = self.concat(&out, &Val::Str(std::mem::take(&mut lit)));
                    out = self.concat(&out, &s);
                }
                _ => lit.push(c),
            }
        }
        self.concat(&out, &Val::Str(lit))
    }

    #[allow(clippy::too_many_lines)]
    fn filter(
        &mut self,
        v: &Val,
        name: &str,
        args: &[Val],
        kwargs: &[(String, Val)],
        off: u32,
        arg_exprs: &[Expr],
    ) -> Val {
        let arg = |i: usize| args.get(i).cloned().unwrap_or(Val::Unknown);
        let kw = |k: &str| kwargs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        // Attribute names given to filters.
        let attr_kw = kw("attribute");
        match name {
            "attr" => {
                let spelling =
                    if matches!(arg_exprs.first().map(|e| &e.kind), Some(ExprKind::Str(_))) {
                        Spelling::Filter
                    } else {
                        Spelling::Computed
                    };
                let n = arg(0);
                // `attr` never walks dotted paths.
                let mut out = Vec::new();
                for a in n.alts() {
                    match a {
                        Val::Str(s) => out.push(self.access_one(v, s, spelling, off)),
                        other => out.push(self.access(v, other, spelling, off)),
                    }
                }
                return alt(out);
            }
            "map" => {
                if let Some(a) = attr_kw {
                    let els = elements(v);
                    let r = self.access(&els, &a, Spelling::Filter, off);
                    return list(vec![r]);
                }
                if let Some(Val::Str(f)) = args.first() {
                    let f = f.clone();
                    let rest: Vec<Val> = args.iter().skip(1).cloned().collect();
                    let exprs: Vec<Expr> = arg_exprs.iter().skip(1).cloned().collect();
                    return match v {
                        Val::List(items) => {
                            let mapped: Vec<Val> = items
                                .clone()
                                .iter()
                                .map(|x| self.filter(x, &f, &rest, kwargs, off, &exprs))
                                .collect();
                            list(mapped)
                        }
                        _ => {
                            let els = elements(v);
                            let r = self.filter(&els, &f, &rest, kwargs, off, &exprs);
                            list(vec![r])
                        }
                    };
                }
                return Val::Unknown;
            }
            "selectattr" | "rejectattr" => {
                let els = elements(v);
                self.access(&els, &arg(0), Spelling::Filter, off);
                return v.clone();
            }
            "groupby" => {
                let els = elements(v);
                let a = attr_kw.unwrap_or_else(|| arg(0));
                self.access(&els, &a, Spelling::Filter, off);
                return Val::Unknown;
            }
            "sort" | "unique" | "min" | "max" | "sum" | "join" | "dictsort" => {
                if let Some(a) = &attr_kw {
                    let els = elements(v);
                    self.access(&els, a, Spelling::Filter, off);
                }
            }
            _ => {}
        }
        match name {
            "join" => {
                let sep = kw("d")
                    .or_else(|| args.first().cloned())
                    .unwrap_or(Val::Str(String::new()));
                if attr_kw.is_some() {
                    return Val::Partial(true);
                }
                self.join(v, &sep)
            }
            "format" => {
                let mut out = Vec::new();
                for x in v.alts() {
                    out.push(match x {
                        Val::Str(s) => self.printf(s, args),
                        other => Val::Partial(other.underscore()),
                    });
                }
                alt(out)
            }
            "replace" => self.replace(v, &arg(0), &arg(1)),
            "default" | "d" => {
                let d = arg(0);
                if matches!(v, Val::Unknown) {
                    d
                } else {
                    alt([v.clone(), d])
                }
            }
            "sort" => map1(v, |x| match x {
                Val::List(items) if items.iter().all(|i| matches!(i, Val::Str(_))) => {
                    let mut s: Vec<String> = items
                        .iter()
                        .filter_map(|i| {
                            if let Val::Str(s) = i {
                                Some(s.clone())
                            } else {
                                None
                            }
                        })
                        .collect();
                    s.sort();
                    Val::List(s.into_iter().map(Val::Str).collect())
                }
                other => other.clone(),
            }),
            "unique" => map1(v, |x| match x {
                Val::List(items) => {
                    let mut seen = Vec::new();
                    for i in items {
                        if !seen.contains(i) {
                            seen.push(i.clone());
                        }
                    }
                    Val::List(seen)
                }
                other => other.clone(),
            }),
            "select" | "reject" | "batch" | "slice" | "items" | "dictsort" | "groupby" => match v {
                Val::List(_) => v.clone(),
                _ => Val::Unknown,
            },
            "tojson" => map1(v, |x| match x {
                Val::Str(s) => serde_json::to_string(s).map_or(Val::Partial(true), Val::Str),
                Val::Int(i) => Val::Str(i.to_string()),
                other => Val::Partial(other.underscore()),
            }),
            "int" => map1(v, |x| match x {
                Val::Str(s) => s.trim().parse().map_or(Val::Unknown, Val::Int),
                Val::Int(_) => x.clone(),
                _ => Val::Unknown,
            }),
            _ => self.filter_simple(v, name),
        }
    }

    /// Filters (and same-named `str` methods) of one value.
    fn filter_simple(&mut self, v: &Val, name: &str) -> Val {
        let r = map1(v, |x| simple(x, name));
        // Re-check the produced strings' size.
        match r {
            Val::Str(s) => self.string(s),
            other => other,
        }
    }

    fn join(&mut self, v: &Val, sep: &Val) -> Val {
        let mut out = Vec::new();
        for x in v.alts() {
            let items: Vec<Val> = match x {
                Val::List(items) => items.clone(),
                Val::Dict(kv) => kv.iter().map(|(k, _)| Val::Str(k.clone())).collect(),
                Val::Str(s) => s.chars().map(|c| Val::Str(c.to_string())).collect(),
                other => {
                    out.push(Val::Partial(other.underscore() || sep.underscore()));
                    continue;
                }
            };
            let mut acc = Val::Str(String::new());
            for (i, it) in items.iter().enumerate() {
                if i > 0 {
                    acc = self.concat(&acc, sep);
                }
                acc = self.concat(&acc, it);
            }
            out.push(acc);
        }
        alt(out)
    }

    fn replace(&mut self, v: &Val, old: &Val, new: &Val) -> Val {
        let mut out = Vec::new();
        for x in v.alts() {
            for o in old.alts() {
                for n in new.alts() {
                    out.push(match (x, o, n) {
                        (Val::Str(s), Val::Str(o), Val::Str(n)) if !o.is_empty() => {
                            if s.len().saturating_mul(n.len().max(1)) > MAX_STR * 4 {
                                Val::Partial(true)
                            } else {
                                self.string(s.replace(o.as_str(), n))
                            }
                        }
                        _ => Val::Partial(x.underscore() || n.underscore()),
                    });
                    if out.len() > MAX_ALT {
                        return Val::Partial(true);
                    }
                }
            }
        }
        alt(out)
    }

    /// Python `%` formatting (`'%c%c' % (95, 95)`, `|format`).
    fn printf(&mut self, fmt: &str, args: &[Val]) -> Val {
        let args: Vec<Val> = match args {
            [Val::List(items)] => items.clone(),
            _ => args.to_vec(),
        };
        let mut out = String::new();
        let mut next = 0usize;
        let mut partial: Option<bool> = None;
        let mut chars = fmt.chars().peekable();
        while let Some(c) = chars.next() {
            if c != '%' {
                out.push(c);
                continue;
            }
            // `%(name)s`, flags, width, precision: skipped.
            let mut keyed: Option<String> = None;
            if chars.peek() == Some(&'(') {
                chars.next();
                let mut k = String::new();
                for d in chars.by_ref() {
                    if d == ')' {
                        break;
                    }
                    k.push(d);
                }
                keyed = Some(k);
            }
            while matches!(chars.peek(), Some(d) if "#0- +.123456789*".contains(*d)) {
                chars.next();
            }
            let Some(conv) = chars.next() else { break };
            if conv == '%' {
                out.push('%');
                continue;
            }
            let a = match keyed {
                Some(k) => args
                    .iter()
                    .find_map(|a| match a {
                        Val::Dict(kv) => kv.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone()),
                        _ => None,
                    })
                    .unwrap_or(Val::Unknown),
                None => {
                    next += 1;
                    args.get(next - 1).cloned().unwrap_or(Val::Unknown)
                }
            };
            match (conv, &a) {
                ('c', Val::Int(i)) => match u32::try_from(*i).ok().and_then(char::from_u32) {
                    Some(ch) => out.push(ch),
                    None => partial = Some(true),
                },
                ('c' | 's' | 'r' | 'a', Val::Str(s)) => out.push_str(s),
                ('s' | 'r' | 'a' | 'd' | 'i' | 'u', Val::Int(i)) => out.push_str(&i.to_string()),
                ('x', Val::Int(i)) => {
                    let _ = write!(out, "{i:x}");
                }
                ('X', Val::Int(i)) => {
                    let _ = write!(out, "{i:X}");
                }
                ('o', Val::Int(i)) => {
                    let _ = write!(out, "{i:o}");
                }
                _ => {
                    let u = partial.unwrap_or(false) || a.underscore() || matches!(a, Val::Unknown);
                    partial = Some(u);
                }
            }
            if out.len() > MAX_STR {
                return Val::Partial(true);
            }
        }
        match partial {
            Some(u) => Val::Partial(u || out.contains('_')),
            None => self.string(out),
        }
    }

    fn stringify(v: &Val) -> Val {
        map1(v, |x| match x {
            Val::Str(_) => x.clone(),
            Val::Int(i) => Val::Str(i.to_string()),
            Val::Partial(u) => Val::Partial(*u),
            Val::Unknown => Val::Partial(false),
            other => Val::Partial(other.underscore()),
        })
    }

    fn concat(&mut self, a: &Val, b: &Val) -> Val {
        let a = Self::stringify(a);
        let b = Self::stringify(b);
        if a.alts().len().saturating_mul(b.alts().len()) > MAX_ALT {
            return Val::Partial(a.underscore() || b.underscore());
        }
        let mut out = Vec::new();
        for x in a.alts() {
            for y in b.alts() {
                out.push(match (x, y) {
                    (Val::Str(x), Val::Str(y)) => {
                        if x.len() + y.len() > MAX_STR {
                            Val::Partial(x.contains('_') || y.contains('_'))
                        } else {
                            self.string(format!("{x}{y}"))
                        }
                    }
                    _ => Val::Partial(x.underscore() || y.underscore()),
                });
            }
        }
        alt(out)
    }

    fn binary(&mut self, op: &str, a: &Val, b: &Val) -> Val {
        match op {
            "~" => self.concat(a, b),
            "or" | "and" => alt([a.clone(), b.clone()]),
            "+" | "-" | "*" | "/" | "//" | "%" | "**" => {
                if a.alts().len().saturating_mul(b.alts().len()) > MAX_ALT {
                    return Val::Partial(a.underscore() || b.underscore());
                }
                let mut out = Vec::new();
                for x in a.alts() {
                    for y in b.alts() {
                        out.push(self.arith(op, x, y));
                    }
                }
                alt(out)
            }
            _ => Val::Unknown,
        }
    }

    fn arith(&mut self, op: &str, x: &Val, y: &Val) -> Val {
        match (op, x, y) {
            ("+", Val::Str(_) | Val::Partial(_), Val::Str(_) | Val::Partial(_)) => {
                self.concat(x, y)
            }
            ("+", Val::List(p), Val::List(q)) => list(p.iter().chain(q.iter()).cloned().collect()),
            ("*", Val::Str(s), Val::Int(n)) | ("*", Val::Int(n), Val::Str(s)) => {
                let n = usize::try_from(*n).unwrap_or(0);
                if s.len().saturating_mul(n) > MAX_STR {
                    Val::Partial(s.contains('_'))
                } else {
                    self.string(s.repeat(n))
                }
            }
            ("*", Val::Partial(u), Val::Int(_)) | ("*", Val::Int(_), Val::Partial(u)) => {
                Val::Partial(*u)
            }
            ("%", Val::Str(s), args) => {
                let argv = match args {
                    Val::List(items) => items.clone(),
                    other => vec![other.clone()],
                };
                self.printf(s, &argv)
            }
            (_, Val::Int(p), Val::Int(q)) => match op {
                "+" => p.checked_add(*q),
                "-" => p.checked_sub(*q),
                "*" => p.checked_mul(*q),
                "//" => p.checked_div_euclid(*q),
                "%" => p.checked_rem_euclid(*q),
                // A power too large for 64 bits stays "huge" so that `'A' * 2 ** 100` is seen.
                "**" if *q >= 0 => Some(
                    u32::try_from(*q)
                        .ok()
                        .and_then(|e| p.checked_pow(e))
                        .unwrap_or(if p.unsigned_abs() >= 2 { i64::MAX } else { *p }),
                ),
                _ => None,
            }
            .map_or(Val::Unknown, Val::Int),
            (_, Val::Str(_) | Val::Partial(_), _) | (_, _, Val::Str(_) | Val::Partial(_)) => {
                Val::Partial(x.underscore() || y.underscore())
            }
            _ => Val::Unknown,
        }
    }
}

/// Iterations of nested constant-size loops past which rendering never ends in practice.
const MAX_RENDER_ITERATIONS: u64 = 1_000_000_000;
/// Repeat count of a string or list past which `*` exhausts memory (with any non-empty operand).
const MAX_REPEAT: i64 = 100_000_000;
/// Exponent past which `**` on integers builds numbers too large to compute or print.
const MAX_EXPONENT: i64 = 100_000;

/// How many times `ns.attr` is read in an expression built by `~`, `+` or `*` alone (a value
/// built from two copies of itself grows exponentially when assigned back in a loop).
fn self_uses(e: &Expr, ns: &str, attr: &str) -> usize {
    match &e.kind {
        ExprKind::Attr(obj, a) if a == attr => {
            usize::from(matches!(&obj.kind, ExprKind::Name(n) if n == ns))
        }
        ExprKind::Binary(op, l, r) if matches!(*op, "~" | "+" | "*") => {
            let n = self_uses(l, ns, attr) + self_uses(r, ns, attr);
            // `x * 2` (or more) doubles too.
            let repeat = *op == "*"
                && matches!((&l.kind, &r.kind), (ExprKind::Int(Some(k)), _) | (_, ExprKind::Int(Some(k))) if *k >= 2);
            if repeat && n >= 1 { 2 } else { n }
        }
        _ => 0,
    }
}

/// What a constant binary operation exhausts at render time, if anything.
fn exhaustion(op: &str, a: &Val, b: &Val) -> Option<String> {
    match (op, a, b) {
        ("*", Val::Str(s), Val::Int(n)) | ("*", Val::Int(n), Val::Str(s))
            if !s.is_empty() && *n > MAX_REPEAT =>
        {
            Some(format!("a string repeated {n} times"))
        }
        ("*", Val::Partial(_) | Val::List(_) | Val::Unknown, Val::Int(n))
        | ("*", Val::Int(n), Val::Partial(_) | Val::List(_) | Val::Unknown)
            if *n > MAX_REPEAT =>
        {
            Some(format!("a value repeated {n} times"))
        }
        ("**", Val::Int(p), Val::Int(q)) if p.unsigned_abs() >= 2 && *q > MAX_EXPONENT => {
            Some(format!("{p} ** {q}"))
        }
        _ => None,
    }
}

/// `str` methods folded like the filters of the same name.
const STR_METHODS: &[&str] = &[
    "capitalize",
    "casefold",
    "center",
    "format",
    "format_map",
    "join",
    "lower",
    "lstrip",
    "replace",
    "rstrip",
    "split",
    "strip",
    "swapcase",
    "title",
    "upper",
    "encode",
    "decode",
    "ljust",
    "rjust",
    "zfill",
    "format_map",
    "expandtabs",
    "translate",
    "removeprefix",
    "removesuffix",
];

fn list(items: Vec<Val>) -> Val {
    if items.len() > MAX_LIST {
        let u = items.iter().any(Val::underscore);
        return Val::Partial(u);
    }
    cap(Val::List(items))
}

/// Most nodes one value may hold; containers nested in containers (`{% set x = [x, x] %}` run in a
/// loop of passes) degrade to "some value" before they grow.
const MAX_NODES: usize = 256;

fn cap(v: Val) -> Val {
    let mut left = MAX_NODES;
    if fits(&v, &mut left, 0) {
        v
    } else {
        Val::Partial(true)
    }
}

/// Counts nodes down from `left`; false once the count or the depth runs out.
fn fits(v: &Val, left: &mut usize, depth: usize) -> bool {
    if *left == 0 || depth > 16 {
        return false;
    }
    *left -= 1;
    match v {
        Val::List(items) | Val::Alt(items) => items.iter().all(|i| fits(i, left, depth + 1)),
        Val::Dict(kv) => kv.iter().all(|(_, i)| fits(i, left, depth + 1)),
        Val::Method(r, _) => fits(r, left, depth + 1),
        _ => true,
    }
}

/// The possible elements of an iterable value.
fn elements(v: &Val) -> Val {
    alt(v.alts().iter().map(|x| match x {
        Val::List(items) => alt(items.iter().cloned()),
        Val::Str(s) => alt(s.chars().take(MAX_ALT + 1).map(|c| Val::Str(c.to_string()))),
        Val::Dict(kv) => alt(kv.iter().map(|(k, _)| Val::Str(k.clone()))),
        Val::Partial(u) => Val::Partial(*u),
        Val::Obj { internal } => Val::Obj {
            internal: *internal,
        },
        _ => Val::Unknown,
    }))
}

fn map1(v: &Val, mut f: impl FnMut(&Val) -> Val) -> Val {
    alt(v.alts().iter().map(&mut f).collect::<Vec<_>>())
}

/// One-argument string filters.
fn simple(x: &Val, name: &str) -> Val {
    match (name, x) {
        (_, Val::Obj { internal }) => Val::Obj {
            internal: *internal,
        },
        ("lower" | "casefold", Val::Str(s)) => Val::Str(s.to_lowercase()),
        ("upper", Val::Str(s)) => Val::Str(s.to_uppercase()),
        ("swapcase", Val::Str(s)) => Val::Str(
            s.chars()
                .map(|c| {
                    if c.is_uppercase() {
                        c.to_ascii_lowercase()
                    } else {
                        c.to_ascii_uppercase()
                    }
                })
                .collect(),
        ),
        ("capitalize", Val::Str(s)) => {
            let mut c = s.chars();
            Val::Str(c.next().map_or(String::new(), |f| {
                f.to_uppercase()
                    .chain(c.flat_map(char::to_lowercase))
                    .collect()
            }))
        }
        ("title", Val::Str(s)) => Val::Str(title(s)),
        ("trim" | "strip", Val::Str(s)) => Val::Str(s.trim().to_owned()),
        ("lstrip", Val::Str(s)) => Val::Str(s.trim_start().to_owned()),
        ("rstrip", Val::Str(s)) => Val::Str(s.trim_end().to_owned()),
        (
            "string" | "safe" | "e" | "escape" | "forceescape" | "striptags" | "encode" | "decode",
            Val::Str(s),
        ) => Val::Str(s.clone()),
        ("string", Val::Int(i)) => Val::Str(i.to_string()),
        ("reverse", Val::Str(s)) => Val::Str(s.chars().rev().collect()),
        ("reverse", Val::List(v)) => Val::List(v.iter().rev().cloned().collect()),
        ("list", Val::Str(s)) => list(s.chars().map(|c| Val::Str(c.to_string())).collect()),
        ("list", Val::List(_)) => x.clone(),
        ("list", Val::Dict(kv)) => list(kv.iter().map(|(k, _)| Val::Str(k.clone())).collect()),
        ("first", Val::Str(s)) => s
            .chars()
            .next()
            .map_or(Val::Unknown, |c| Val::Str(c.to_string())),
        ("last", Val::Str(s)) => s
            .chars()
            .last()
            .map_or(Val::Unknown, |c| Val::Str(c.to_string())),
        ("first", Val::List(v)) => v.first().cloned().unwrap_or(Val::Unknown),
        ("last", Val::List(v)) => v.last().cloned().unwrap_or(Val::Unknown),
        ("first", Val::Dict(kv)) => kv
            .first()
            .map_or(Val::Unknown, |(k, _)| Val::Str(k.clone())),
        ("last", Val::Dict(kv)) => kv.last().map_or(Val::Unknown, |(k, _)| Val::Str(k.clone())),
        ("split", Val::Str(s)) => list(
            s.split_whitespace()
                .map(|p| Val::Str(p.to_owned()))
                .collect(),
        ),
        ("length" | "count" | "wordcount" | "abs" | "round" | "float" | "filesizeformat", _) => {
            Val::Unknown
        }
        (
            "string" | "list" | "first" | "last" | "random" | "pprint" | "urlize" | "xmlattr"
            | "urlencode" | "center" | "indent" | "truncate" | "wordwrap" | "safe" | "e" | "escape"
            | "lower" | "upper" | "title" | "capitalize" | "trim" | "reverse" | "replace",
            _,
        ) => Val::Partial(
            x.underscore() || !matches!(x, Val::Str(_) | Val::Partial(_) | Val::Int(_)),
        ),
        _ => Val::Partial(x.underscore()),
    }
}

fn title(s: &str) -> String {
    let mut out = String::new();
    let mut prev_alpha = false;
    for c in s.chars() {
        if prev_alpha {
            out.extend(c.to_lowercase());
        } else {
            out.extend(c.to_uppercase());
        }
        prev_alpha = c.is_alphanumeric();
    }
    out
}

fn index(b: &Val, i: i64) -> Val {
    match b {
        Val::Str(s) => {
            let chars: Vec<char> = s.chars().collect();
            py_index(chars.len(), i)
                .and_then(|k| chars.get(k))
                .map_or(Val::Unknown, |c| Val::Str(c.to_string()))
        }
        Val::List(v) => py_index(v.len(), i)
            .and_then(|k| v.get(k))
            .cloned()
            .unwrap_or(Val::Unknown),
        Val::Partial(u) => Val::Partial(*u),
        Val::Obj { internal } => Val::Obj {
            internal: *internal,
        },
        _ => Val::Unknown,
    }
}

fn py_index(len: usize, i: i64) -> Option<usize> {
    let len = i64::try_from(len).ok()?;
    let k = if i < 0 { len.checked_add(i)? } else { i };
    if (0..len).contains(&k) {
        usize::try_from(k).ok()
    } else {
        None
    }
}

fn int_of(v: Option<&Val>) -> Result<Option<i64>, ()> {
    match v {
        None => Ok(None),
        Some(Val::Int(i)) => Ok(Some(*i)),
        Some(Val::Unknown) => Ok(None),
        _ => Err(()),
    }
}

/// Python slice semantics over characters or list elements.
fn slice(b: &Val, lo: Option<&Val>, hi: Option<&Val>, step: Option<&Val>) -> Val {
    let (Ok(lo), Ok(hi), Ok(step)) = (int_of(lo), int_of(hi), int_of(step)) else {
        return Val::Partial(b.underscore());
    };
    let step = step.unwrap_or(1);
    if step == 0 {
        return Val::Unknown;
    }
    let pick = |len: usize| -> Vec<usize> {
        let n = i64::try_from(len).unwrap_or(i64::MAX);
        let clamp = |v: Option<i64>, dflt: i64, lo_b: i64, hi_b: i64| -> i64 {
            match v {
                None => dflt,
                Some(v) => {
                    let v = if v < 0 { v.saturating_add(n) } else { v };
                    v.clamp(lo_b, hi_b)
                }
            }
        };
        let mut out = Vec::new();
        if step > 0 {
            let (s, e) = (clamp(lo, 0, 0, n), clamp(hi, n, 0, n));
            let mut i = s;
            while i < e {
                out.push(usize::try_from(i).unwrap_or(0));
                i = i.saturating_add(step);
            }
        } else {
            let (s, e) = (clamp(lo, n - 1, -1, n - 1), clamp(hi, -1, -1, n - 1));
            let e = if hi.is_none() { -1 } else { e };
            let mut i = s;
            while i > e {
                out.push(usize::try_from(i).unwrap_or(0));
                i = i.saturating_add(step);
            }
        }
        out
    };
    match b {
        Val::Str(s) => {
            let chars: Vec<char> = s.chars().collect();
            Val::Str(
                pick(chars.len())
                    .into_iter()
                    .filter_map(|i| chars.get(i))
                    .collect(),
            )
        }
        Val::List(v) => Val::List(
            pick(v.len())
                .into_iter()
                .filter_map(|i| v.get(i).cloned())
                .collect(),
        ),
        other => Val::Partial(other.underscore()),
    }
}

fn collect_macros(body: &[Stmt], out: &mut HashMap<String, Vec<String>>, depth: usize) {
    if depth > super::parser::MAX_NESTING + 1 {
        return;
    }
    for s in body {
        match &s.kind {
            StmtKind::Macro { name, params, body } => {
                out.insert(
                    name.clone(),
                    params.iter().map(|(p, _)| p.clone()).collect(),
                );
                collect_macros(body, out, depth + 1);
            }
            StmtKind::If { branches } => {
                for (_, b) in branches {
                    collect_macros(b, out, depth + 1);
                }
            }
            StmtKind::For {
                body, else_body, ..
            } => {
                collect_macros(body, out, depth + 1);
                collect_macros(else_body, out, depth + 1);
            }
            StmtKind::SetBlock { body, .. }
            | StmtKind::CallBlock { body, .. }
            | StmtKind::FilterBlock { body, .. }
            | StmtKind::With { body, .. }
            | StmtKind::Block { body, .. } => collect_macros(body, out, depth + 1),
            _ => {}
        }
    }
}
