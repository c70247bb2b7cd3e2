//! The walk over a Python syntax tree: import aliases, assignments and constant strings are
//! collected first, then every reference, call and string is judged in its context (import time,
//! a function, a `__main__` block).
//!
//! Both passes are iterative (an explicit stack), so a deeply nested file cannot overflow the
//! thread's stack; name resolution and constant folding recurse, bounded by [`MAX_EXPR_DEPTH`],
//! and all of it shares one work budget ([`WORK_BUDGET`]).

use std::collections::{HashMap, HashSet};

use aisec_core::Severity;
use serde_json::json;
use tree_sitter::Node;

use super::fold;
use super::tables::{self, Cat};
use crate::formats::outcome::Issue;

/// Deepest expression that name resolution and folding descend into.
const MAX_EXPR_DEPTH: usize = 48;
/// Steps of resolution and folding per file; past it, names stay unresolved.
const WORK_BUDGET: u64 = 10_000_000;
/// Qualified names one local name may stand for.
const MAX_ALIASES_PER_NAME: usize = 8;
/// Assignments remembered for alias resolution.
const MAX_ASSIGNS: usize = 100_000;
/// Issues kept per file.
const MAX_ISSUES: usize = 256;
/// Nested function scopes whose local names are tracked (deeper ones see only outer scopes).
const MAX_SCOPES: usize = 4_096;
/// Nodes a subtree search (paths, arguments) looks at.
const MAX_SUBTREE: usize = 512;
/// Decoded payloads handed to the driver per file.
const MAX_PAYLOADS: usize = 16;

/// Bytes the analyser wants scanned as a file of their own.
pub(super) struct Payload {
    pub(super) name: String,
    pub(super) data: Vec<u8>,
    pub(super) ext: &'static str,
}

/// What the walk found.
#[derive(Default)]
pub(super) struct Findings {
    pub(super) issues: Vec<Issue>,
    pub(super) payloads: Vec<Payload>,
    /// Modules imported relatively (`from .configuration_x import …` gives `configuration_x`).
    pub(super) relative_imports: Vec<String>,
    /// Byte ranges the parser could not read.
    pub(super) error_regions: Vec<(usize, usize)>,
    /// The work budget ran out: later names may have stayed unresolved.
    pub(super) budget_exhausted: bool,
}

/// When the code around a node runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Where {
    /// Module or class body: runs on import.
    Import,
    /// A function body; `import_time` when the function is called at import.
    Function {
        name: (usize, usize),
        import_time: bool,
    },
    /// The `if __name__ == "__main__":` block: runs only as a script.
    Main,
}

impl Where {
    fn import_time(self) -> bool {
        matches!(
            self,
            Where::Import
                | Where::Function {
                    import_time: true,
                    ..
                }
        )
    }
}

#[derive(Clone, Copy)]
struct Frame<'t> {
    node: Node<'t>,
    at: Where,
    scope: usize,
    parent: &'static str,
    /// Inside the body of a class instantiated at import.
    class_at_import: bool,
    /// Directly inside a class body (its functions are methods, not module functions).
    in_class: bool,
}

struct Scope {
    parent: usize,
    names: HashSet<String>,
}

struct Walker<'t, 's> {
    src: &'s [u8],
    aliases: HashMap<String, Vec<String>>,
    stars: Vec<String>,
    module_bound: HashSet<String>,
    consts: HashMap<String, Option<Node<'t>>>,
    /// Every value assigned to a name, anywhere (for following a path or a payload through a
    /// local variable).
    assigned: HashMap<String, Vec<Node<'t>>>,
    scopes: Vec<Scope>,
    import_time_names: HashSet<String>,
    /// Module constants being folded (a constant defined through itself folds to nothing).
    folding: Vec<String>,
    work: u64,
    seen: HashSet<(&'static str, usize, String)>,
    out: Findings,
}

/// Walks the tree of `src`.
pub(super) fn walk(root: Node<'_>, src: &[u8]) -> Findings {
    let mut w = Walker {
        src,
        aliases: HashMap::new(),
        stars: Vec::new(),
        module_bound: HashSet::new(),
        consts: HashMap::new(),
        assigned: HashMap::new(),
        scopes: vec![Scope {
            parent: 0,
            names: HashSet::new(),
        }],
        import_time_names: HashSet::new(),
        folding: Vec::new(),
        work: 0,
        seen: HashSet::new(),
        out: Findings::default(),
    };
    w.collect(root);
    w.judge(root);
    w.out.budget_exhausted = w.work > WORK_BUDGET;
    w.out
}

fn named_children(node: Node<'_>) -> Vec<Node<'_>> {
    let mut cursor = node.walk();
    node.named_children(&mut cursor).collect()
}

fn is_main_guard(text: &[u8]) -> bool {
    let t: Vec<u8> = text
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .map(|b| if b == b'\'' { b'"' } else { b })
        .collect();
    t == b"__name__==\"__main__\"" || t == b"\"__main__\"==__name__"
}

/// Positional and keyword arguments of a call.
struct Args<'t> {
    pos: Vec<Node<'t>>,
    kw: Vec<(String, Node<'t>)>,
}

impl<'t> Args<'t> {
    fn kw(&self, name: &str) -> Option<Node<'t>> {
        self.kw.iter().find(|(k, _)| k == name).map(|(_, v)| *v)
    }
    fn arg(&self, i: usize, name: &str) -> Option<Node<'t>> {
        self.pos.get(i).copied().or_else(|| self.kw(name))
    }
    fn all(&self) -> impl Iterator<Item = Node<'t>> + '_ {
        self.pos
            .iter()
            .copied()
            .chain(self.kw.iter().map(|(_, v)| *v))
    }
}

impl<'t> Walker<'t, '_> {
    fn text(&self, node: Node<'_>) -> &str {
        self.src
            .get(node.start_byte()..node.end_byte())
            .and_then(|b| std::str::from_utf8(b).ok())
            .unwrap_or("")
    }

    fn spend(&mut self) -> bool {
        self.work += 1;
        self.work <= WORK_BUDGET
    }

    fn args(&self, call: Node<'t>) -> Args<'t> {
        let mut args = Args {
            pos: Vec::new(),
            kw: Vec::new(),
        };
        let Some(list) = call.child_by_field_name("arguments") else {
            return args;
        };
        if list.kind() != "argument_list" {
            args.pos.push(list);
            return args;
        }
        for a in named_children(list) {
            match a.kind() {
                "keyword_argument" => {
                    if let (Some(n), Some(v)) = (
                        a.child_by_field_name("name"),
                        a.child_by_field_name("value"),
                    ) {
                        args.kw.push((self.text(n).to_owned(), v));
                    }
                }
                "comment" | "list_splat" | "dictionary_splat" => {}
                _ => args.pos.push(a),
            }
        }
        args
    }

    // ----- pass 1: names ------------------------------------------------------------------------

    fn bind_alias(&mut self, name: &str, qual: String) {
        let v = self.aliases.entry(name.to_owned()).or_default();
        if v.len() < MAX_ALIASES_PER_NAME && !v.contains(&qual) {
            v.push(qual);
        }
    }

    fn collect_import(&mut self, node: Node<'t>, module_level: bool) {
        let from = node.kind() == "import_from_statement";
        let mut module = String::new();
        if from {
            let Some(m) = node.child_by_field_name("module_name") else {
                return;
            };
            if m.kind() == "relative_import" {
                let rel = self.text(m).trim_start_matches('.').to_owned();
                if rel.is_empty() {
                    // `from . import x`: each name is a module of the package.
                    for n in named_children(node).into_iter().skip(1) {
                        let name = match n.kind() {
                            "aliased_import" => n.child_by_field_name("name"),
                            _ => Some(n),
                        };
                        if let Some(name) = name {
                            let t = self.text(name).to_owned();
                            self.out.relative_imports.push(t);
                        }
                    }
                } else {
                    self.out.relative_imports.push(rel);
                }
                return;
            }
            self.text(m).clone_into(&mut module);
        }
        let mut cursor = node.walk();
        let names: Vec<Node<'t>> = node.children_by_field_name("name", &mut cursor).collect();
        if from && names.is_empty() {
            // `from m import *`
            if self.stars.len() < 32 {
                self.stars.push(module);
            }
            return;
        }
        for n in names {
            let (full, alias) = match n.kind() {
                "aliased_import" => {
                    let full = n
                        .child_by_field_name("name")
                        .map(|x| self.text(x).to_owned());
                    let alias = n
                        .child_by_field_name("alias")
                        .map(|x| self.text(x).to_owned());
                    (full, alias)
                }
                _ => (Some(self.text(n).to_owned()), None),
            };
            let Some(full) = full else { continue };
            let full: String = full.chars().filter(|c| !c.is_whitespace()).collect();
            let (bound, qual) = match (from, alias) {
                (true, Some(a)) => (a, format!("{module}.{full}")),
                (true, None) => (full.clone(), format!("{module}.{full}")),
                (false, Some(a)) => (a, full),
                (false, None) => {
                    let top = full.split('.').next().unwrap_or(&full).to_owned();
                    (top.clone(), top)
                }
            };
            if module_level {
                self.module_bound.insert(bound.clone());
            }
            self.bind_alias(&bound, qual);
        }
    }

    /// Pass 1: imports, aliases by assignment, module constants, what runs at import.
    fn collect(&mut self, root: Node<'t>) {
        // (node, module_level, import_time, enclosing module-level function)
        let mut stack: Vec<(Node<'t>, bool, bool, Option<String>)> = vec![(root, true, true, None)];
        let mut assigns: Vec<(String, Node<'t>)> = Vec::new();
        let mut calls: Vec<(Option<String>, String)> = Vec::new();
        while let Some((node, module_level, import_time, func)) = stack.pop() {
            let mut push_children = true;
            let (mut ml, mut it, mut fnm) = (module_level, import_time, func.clone());
            match node.kind() {
                "import_statement" | "import_from_statement" => {
                    self.collect_import(node, module_level);
                    push_children = false;
                }
                "function_definition" | "class_definition" => {
                    let name = node
                        .child_by_field_name("name")
                        .map(|n| self.text(n).to_owned());
                    if let Some(name) = &name
                        && module_level
                    {
                        self.module_bound.insert(name.clone());
                    }
                    if node.kind() == "function_definition" {
                        if module_level {
                            fnm = name;
                        }
                        it = false;
                    }
                    ml = false;
                }
                "lambda" => {
                    it = false;
                    ml = false;
                }
                // `lambda m=__import__('os'): …`, `def f(m=os): …`: a default binds the
                // parameter to a value computed where the function is defined.
                "default_parameter" | "typed_default_parameter" => {
                    if let (Some(n), Some(v)) = (
                        node.child_by_field_name("name"),
                        node.child_by_field_name("value"),
                    ) && n.kind() == "identifier"
                        && assigns.len() < MAX_ASSIGNS
                    {
                        assigns.push((self.text(n).to_owned(), v));
                    }
                }
                "decorator" => {
                    if let Some(e) = node.named_child(0) {
                        let e = if e.kind() == "call" {
                            e.child_by_field_name("function").unwrap_or(e)
                        } else {
                            e
                        };
                        if e.kind() == "identifier" {
                            let ctx = if import_time {
                                None
                            } else {
                                Some(func.clone().unwrap_or_default())
                            };
                            calls.push((ctx, self.text(e).to_owned()));
                        }
                    }
                }
                "if_statement" => {
                    if let Some(c) = node.child_by_field_name("condition")
                        && is_main_guard(self.text(c).as_bytes())
                    {
                        // The guarded block is not import-time; its else branch is.
                        for ch in named_children(node).into_iter().rev() {
                            let guarded = node
                                .child_by_field_name("consequence")
                                .is_some_and(|b| b.id() == ch.id());
                            let it2 = if guarded { false } else { import_time };
                            stack.push((ch, module_level, it2, func.clone()));
                        }
                        continue;
                    }
                }
                "assignment" | "named_expression" => {
                    let (l, r) = if node.kind() == "assignment" {
                        (
                            node.child_by_field_name("left"),
                            node.child_by_field_name("right"),
                        )
                    } else {
                        (
                            node.child_by_field_name("name"),
                            node.child_by_field_name("value"),
                        )
                    };
                    if let (Some(l), Some(r)) = (l, r) {
                        if l.kind() == "identifier" {
                            let name = self.text(l).to_owned();
                            if module_level {
                                self.module_bound.insert(name.clone());
                                let entry = self.consts.entry(name.clone()).or_insert(Some(r));
                                if entry.is_some_and(|n| n.id() != r.id()) {
                                    *entry = None;
                                }
                            }
                            if assigns.len() < MAX_ASSIGNS {
                                assigns.push((name, r));
                            }
                        } else if matches!(l.kind(), "pattern_list" | "tuple_pattern")
                            && matches!(r.kind(), "expression_list" | "tuple")
                        {
                            let ls = named_children(l);
                            let rs = named_children(r);
                            if ls.len() == rs.len() {
                                for (a, b) in ls.into_iter().zip(rs) {
                                    if a.kind() == "identifier" && assigns.len() < MAX_ASSIGNS {
                                        let name = self.text(a).to_owned();
                                        if module_level {
                                            self.module_bound.insert(name.clone());
                                            self.consts.insert(name.clone(), None);
                                        }
                                        assigns.push((name, b));
                                    }
                                }
                            }
                        }
                    }
                }
                "call" => {
                    if let Some(f) = node.child_by_field_name("function")
                        && f.kind() == "identifier"
                    {
                        let ctx = if import_time {
                            None
                        } else {
                            Some(func.clone().unwrap_or_default())
                        };
                        if calls.len() < MAX_ASSIGNS {
                            calls.push((ctx, self.text(f).to_owned()));
                        }
                    }
                }
                _ => {}
            }
            if push_children {
                for ch in named_children(node).into_iter().rev() {
                    stack.push((ch, ml, it, fnm.clone()));
                }
            }
        }
        for (name, rhs) in &assigns {
            let v = self.assigned.entry(name.clone()).or_default();
            if v.len() < MAX_ALIASES_PER_NAME {
                v.push(*rhs);
            }
        }
        // Aliases through assignment, a few rounds so that chains resolve.
        for _ in 0..3 {
            let mut changed = false;
            for (name, rhs) in &assigns {
                let quals = self.resolve(*rhs, 0, 0);
                for q in quals {
                    let before = self.aliases.get(name).map_or(0, Vec::len);
                    self.bind_alias(name, q);
                    changed |= self.aliases.get(name).map_or(0, Vec::len) != before;
                }
            }
            if !changed {
                break;
            }
        }
        // Functions (and classes, whose constructors run) called at import, transitively.
        let mut callees: HashMap<&str, Vec<&str>> = HashMap::new();
        let mut frontier: Vec<String> = Vec::new();
        for (ctx, callee) in &calls {
            match ctx {
                None => frontier.push(callee.clone()),
                Some(f) => callees.entry(f.as_str()).or_default().push(callee.as_str()),
            }
        }
        while let Some(f) = frontier.pop() {
            if self.import_time_names.insert(f.clone())
                && let Some(next) = callees.get(f.as_str())
            {
                frontier.extend(next.iter().map(|c| (*c).to_owned()));
            }
        }
    }

    // ----- resolution and folding ---------------------------------------------------------------

    fn is_bound(&self, name: &str, mut scope: usize) -> bool {
        while scope != 0 {
            let Some(s) = self.scopes.get(scope) else {
                break;
            };
            if s.names.contains(name) {
                return true;
            }
            scope = s.parent;
        }
        self.module_bound.contains(name)
    }

    /// The qualified names an expression stands for (`o.system` with `import os as o` gives
    /// `os.system`).
    fn resolve(&mut self, node: Node<'t>, depth: usize, scope: usize) -> Vec<String> {
        if depth > MAX_EXPR_DEPTH || !self.spend() {
            return Vec::new();
        }
        match node.kind() {
            "identifier" => {
                let name = self.text(node).to_owned();
                if name == "__builtins__" {
                    return vec!["builtins".into()];
                }
                if let Some(v) = self.aliases.get(&name) {
                    return v.clone();
                }
                if self.is_bound(&name, scope) {
                    return Vec::new();
                }
                if tables::BUILTINS.contains(&name.as_str()) {
                    return vec![format!("builtins.{name}")];
                }
                self.stars
                    .iter()
                    .map(|m| format!("{m}.{name}"))
                    .filter(|q| tables::classify(q).is_some())
                    .collect()
            }
            "attribute" => {
                let (Some(obj), Some(attr)) = (
                    node.child_by_field_name("object"),
                    node.child_by_field_name("attribute"),
                ) else {
                    return Vec::new();
                };
                let attr = self.text(attr).to_owned();
                self.resolve(obj, depth + 1, scope)
                    .into_iter()
                    .map(|q| format!("{q}.{attr}"))
                    .collect()
            }
            "parenthesized_expression" => match node.named_child(0) {
                Some(inner) => self.resolve(inner, depth + 1, scope),
                None => Vec::new(),
            },
            // `a if c else b`, `a or b`: either value may be the one used.
            "conditional_expression" | "boolean_operator" => {
                let kids = named_children(node);
                let picks: Vec<Node<'t>> = if node.kind() == "boolean_operator" {
                    kids
                } else {
                    [kids.first(), kids.get(2)]
                        .into_iter()
                        .flatten()
                        .copied()
                        .collect()
                };
                let mut out = Vec::new();
                for k in picks {
                    for q in self.resolve(k, depth + 1, scope) {
                        if !out.contains(&q) {
                            out.push(q);
                        }
                    }
                }
                out
            }
            "call" => self.resolve_call(node, depth, scope),
            "subscript" => {
                let (Some(value), Some(key)) = (
                    node.child_by_field_name("value"),
                    node.child_by_field_name("subscript"),
                ) else {
                    return Vec::new();
                };
                let Some(key) = self.fold_str(key, depth + 1) else {
                    return Vec::new();
                };
                let quals = self.resolve(value, depth + 1, scope);
                self.mapping_item(quals, &key)
            }
            _ => Vec::new(),
        }
    }

    /// `m[key]` where `m` is a namespace mapping: `globals()`, `sys.modules`, `x.__dict__` or the
    /// builtins module seen as a dict (`__builtins__` outside `__main__`).
    fn mapping_item(&self, quals: Vec<String>, key: &str) -> Vec<String> {
        let mut out = Vec::new();
        for q in quals {
            let q = tables::canonical(&q).into_owned();
            if q == "<globals>" {
                if key == "__builtins__" {
                    out.push("builtins".into());
                } else if let Some(v) = self.aliases.get(key) {
                    out.extend(v.iter().cloned());
                } else if tables::BUILTINS.contains(&key) {
                    out.push(format!("builtins.{key}"));
                }
            } else if q == "sys.modules" {
                out.push(key.to_owned());
            } else if let Some(base) = q.strip_suffix(".__dict__") {
                out.push(format!("{base}.{key}"));
            } else if q == "builtins" {
                out.push(format!("builtins.{key}"));
            }
        }
        out
    }

    fn resolve_call(&mut self, node: Node<'t>, depth: usize, scope: usize) -> Vec<String> {
        let Some(f) = node.child_by_field_name("function") else {
            return Vec::new();
        };
        let args = self.args(node);
        // `__builtins__.__dict__.get("exec")`, `sys.modules.get("os")`: the same as `[…]`.
        if f.kind() == "attribute"
            && let (Some(obj), Some(m)) = (
                f.child_by_field_name("object"),
                f.child_by_field_name("attribute"),
            )
            && matches!(self.text(m), "get" | "__getitem__" | "pop" | "setdefault")
            && let Some(key) = args.pos.first().and_then(|a| self.fold_str(*a, depth + 1))
        {
            let quals = self.resolve(obj, depth + 1, scope);
            let items = self.mapping_item(quals, &key);
            if !items.is_empty() {
                return items;
            }
        }
        // `os.__getattribute__("system")`
        if f.kind() == "attribute"
            && let (Some(obj), Some(m)) = (
                f.child_by_field_name("object"),
                f.child_by_field_name("attribute"),
            )
            && self.text(m) == "__getattribute__"
            && let Some(name) = args.pos.first().and_then(|a| self.fold_str(*a, depth + 1))
        {
            return self
                .resolve(obj, depth + 1, scope)
                .into_iter()
                .map(|q| format!("{q}.{name}"))
                .collect();
        }
        // `operator.attrgetter("system")(os)` is `os.system`; `operator.methodcaller("system",
        // cmd)(os)` calls it, and is reported as a use of `os.system` too.
        if f.kind() == "call"
            && let Some(g) = f.child_by_field_name("function")
            && self.resolve(g, depth + 1, scope).iter().any(|q| {
                matches!(
                    &*tables::canonical(q),
                    "operator.attrgetter" | "operator.methodcaller"
                )
            })
        {
            let inner = self.args(f);
            if let (Some(n), Some(o)) = (inner.pos.first(), args.pos.first())
                && let Some(name) = self.fold_str(*n, depth + 1)
            {
                return self
                    .resolve(*o, depth + 1, scope)
                    .into_iter()
                    .map(|q| format!("{q}.{name}"))
                    .collect();
            }
        }
        let quals = self.resolve(f, depth + 1, scope);
        if quals.is_empty() {
            return Vec::new();
        }
        let mut out = Vec::new();
        for q in quals {
            match &*tables::canonical(&q) {
                "builtins.__import__" | "importlib.import_module" | "importlib.__import__" => {
                    if let Some(a) = args.arg(0, "name")
                        && let Some(m) = self.fold_str(a, depth + 1)
                    {
                        out.push(m);
                    }
                }
                "pkgutil.resolve_name" | "pydoc.locate" => {
                    if let Some(a) = args.arg(0, "name")
                        && let Some(m) = self.fold_str(a, depth + 1)
                    {
                        out.push(m.replace(':', "."));
                    }
                }
                "builtins.getattr" => {
                    if let (Some(o), Some(n)) = (args.pos.first(), args.pos.get(1))
                        && let Some(name) = self.fold_str(*n, depth + 1)
                    {
                        for b in self.resolve(*o, depth + 1, scope) {
                            out.push(format!("{b}.{name}"));
                        }
                    }
                }
                "builtins.globals" => out.push("<globals>".into()),
                "builtins.vars" => {
                    if let Some(o) = args.pos.first() {
                        out.extend(
                            self.resolve(*o, depth + 1, scope)
                                .into_iter()
                                .map(|q| format!("{q}.__dict__")),
                        );
                    } else {
                        out.push("<globals>".into());
                    }
                }
                _ => {}
            }
        }
        out
    }

    /// True when a computed module name starts with a literal `.` (a relative import).
    fn starts_with_dot(&self, node: Node<'t>) -> bool {
        match node.kind() {
            "string" => {
                let t = self
                    .text(node)
                    .trim_start_matches(|c: char| c.is_ascii_alphabetic());
                t.trim_start_matches(['"', '\'']).starts_with('.')
            }
            "binary_operator" => node
                .child_by_field_name("left")
                .is_some_and(|l| self.starts_with_dot(l)),
            "parenthesized_expression" => {
                node.named_child(0).is_some_and(|i| self.starts_with_dot(i))
            }
            _ => false,
        }
    }

    fn fold_str(&mut self, node: Node<'t>, depth: usize) -> Option<String> {
        let v = self.fold(node, depth)?;
        String::from_utf8(v).ok()
    }

    fn fold_int(&mut self, node: Node<'t>, depth: usize) -> Option<i64> {
        if depth > MAX_EXPR_DEPTH || !self.spend() {
            return None;
        }
        match node.kind() {
            "integer" => {
                let t: String = self.text(node).chars().filter(|c| *c != '_').collect();
                let t = t.to_ascii_lowercase();
                if let Some(h) = t.strip_prefix("0x") {
                    i64::from_str_radix(h, 16).ok()
                } else if let Some(o) = t.strip_prefix("0o") {
                    i64::from_str_radix(o, 8).ok()
                } else if let Some(b) = t.strip_prefix("0b") {
                    i64::from_str_radix(b, 2).ok()
                } else {
                    t.parse().ok()
                }
            }
            "parenthesized_expression" => self.fold_int(node.named_child(0)?, depth + 1),
            "unary_operator" => {
                let v = self.fold_int(node.child_by_field_name("argument")?, depth + 1)?;
                let op = node.child_by_field_name("operator")?;
                (self.text(op) == "-").then(|| v.checked_neg()).flatten()
            }
            "binary_operator" => {
                let l = self.fold_int(node.child_by_field_name("left")?, depth + 1)?;
                let r = self.fold_int(node.child_by_field_name("right")?, depth + 1)?;
                match self.text(node.child_by_field_name("operator")?) {
                    "+" => l.checked_add(r),
                    "-" => l.checked_sub(r),
                    "*" => l.checked_mul(r),
                    "^" => Some(l ^ r),
                    "//" => l.checked_div(r),
                    "%" => l.checked_rem(r),
                    _ => None,
                }
            }
            _ => None,
        }
    }

    /// The items of a list, tuple, string or `reversed(…)`/`map(chr, …)`/comprehension of `chr`.
    fn fold_items(&mut self, node: Node<'t>, depth: usize) -> Option<Vec<Vec<u8>>> {
        if depth > MAX_EXPR_DEPTH || !self.spend() {
            return None;
        }
        match node.kind() {
            "list" | "tuple" | "set" => {
                let mut items = Vec::new();
                let mut total = 0usize;
                for ch in named_children(node) {
                    let v = self.fold(ch, depth + 1)?;
                    total += v.len();
                    if total > fold::MAX_FOLDED {
                        return None;
                    }
                    items.push(v);
                }
                Some(items)
            }
            "list_comprehension" | "generator_expression" => {
                // [chr(c) for c in <ints>]
                let body = node.child_by_field_name("body")?;
                let clause = named_children(node)
                    .into_iter()
                    .find(|n| n.kind() == "for_in_clause")?;
                let ints = clause.child_by_field_name("right")?;
                if body.kind() == "call"
                    && self.text(body.child_by_field_name("function")?) == "chr"
                {
                    self.chr_items(ints, depth)
                } else {
                    None
                }
            }
            "call" => {
                let f = node.child_by_field_name("function")?;
                let args = self.args(node);
                match self.text(f) {
                    "reversed" => {
                        let mut items = self.fold_items(*args.pos.first()?, depth + 1)?;
                        items.reverse();
                        Some(items)
                    }
                    "map" if args.pos.first().map(|a| self.text(*a)) == Some("chr") => {
                        self.chr_items(*args.pos.get(1)?, depth)
                    }
                    "list" | "tuple" => self.fold_items(*args.pos.first()?, depth + 1),
                    _ => self
                        .fold(node, depth + 1)
                        .map(|s| s.into_iter().map(|b| vec![b]).collect()),
                }
            }
            _ => {
                let s = self.fold(node, depth + 1)?;
                let text = String::from_utf8_lossy(&s).into_owned();
                Some(text.chars().map(|c| c.to_string().into_bytes()).collect())
            }
        }
    }

    fn chr_items(&mut self, list: Node<'t>, depth: usize) -> Option<Vec<Vec<u8>>> {
        if !matches!(list.kind(), "list" | "tuple") {
            return None;
        }
        let mut out = Vec::new();
        for ch in named_children(list) {
            let v = self.fold_int(ch, depth + 1)?;
            let c = char::from_u32(u32::try_from(v).ok()?)?;
            out.push(c.to_string().into_bytes());
            if out.len() > fold::MAX_FOLDED {
                return None;
            }
        }
        Some(out)
    }

    /// The constant value of a string expression, if it has one.
    fn fold(&mut self, node: Node<'t>, depth: usize) -> Option<Vec<u8>> {
        if depth > MAX_EXPR_DEPTH || !self.spend() {
            return None;
        }
        match node.kind() {
            "string" => fold::string_value(node, self.src),
            "concatenated_string" => {
                let mut out = Vec::new();
                for ch in named_children(node) {
                    out.extend(self.fold(ch, depth + 1)?);
                    if out.len() > fold::MAX_FOLDED {
                        return None;
                    }
                }
                Some(out)
            }
            "parenthesized_expression" => self.fold(node.named_child(0)?, depth + 1),
            "binary_operator" => {
                let op = self.text(node.child_by_field_name("operator")?).to_owned();
                let l = node.child_by_field_name("left")?;
                let r = node.child_by_field_name("right")?;
                match op.as_str() {
                    "+" => {
                        let mut a = self.fold(l, depth + 1)?;
                        a.extend(self.fold(r, depth + 1)?);
                        (a.len() <= fold::MAX_FOLDED).then_some(a)
                    }
                    "*" => {
                        let (s, n) = match self.fold(l, depth + 1) {
                            Some(s) => (s, self.fold_int(r, depth + 1)?),
                            None => (self.fold(r, depth + 1)?, self.fold_int(l, depth + 1)?),
                        };
                        let n = usize::try_from(n).ok()?;
                        (s.len().checked_mul(n)? <= fold::MAX_FOLDED).then(|| s.repeat(n))
                    }
                    _ => None,
                }
            }
            "identifier" => {
                let name = self.text(node).to_owned();
                let value = self.consts.get(&name).copied().flatten()?;
                if self.folding.contains(&name) {
                    return None;
                }
                self.folding.push(name);
                let v = self.fold(value, depth + 1);
                self.folding.pop();
                v
            }
            "subscript" => {
                let value = node.child_by_field_name("value")?;
                let sub = node.child_by_field_name("subscript")?;
                let t: String = self
                    .text(sub)
                    .chars()
                    .filter(|c| !c.is_whitespace())
                    .collect();
                if t == "::-1" {
                    let s = self.fold(value, depth + 1)?;
                    let text = String::from_utf8(s).ok()?;
                    Some(text.chars().rev().collect::<String>().into_bytes())
                } else {
                    None
                }
            }
            "call" => self.fold_call(node, depth),
            _ => None,
        }
    }

    fn fold_call(&mut self, node: Node<'t>, depth: usize) -> Option<Vec<u8>> {
        let f = node.child_by_field_name("function")?;
        let args = self.args(node);
        if f.kind() == "attribute" {
            let obj = f.child_by_field_name("object")?;
            let method = self.text(f.child_by_field_name("attribute")?).to_owned();
            match method.as_str() {
                "join" => {
                    let sep = self.fold(obj, depth + 1)?;
                    let items = self.fold_items(*args.pos.first()?, depth + 1)?;
                    let joined = items.join(sep.as_slice());
                    return (joined.len() <= fold::MAX_FOLDED).then_some(joined);
                }
                "decode" | "encode"
                    if obj.kind() != "identifier" || self.consts.contains_key(self.text(obj)) =>
                {
                    let s = self.fold(obj, depth + 1)?;
                    let codec = match args.arg(0, "encoding") {
                        Some(a) => self.fold_str(a, depth + 1)?,
                        None => String::new(),
                    };
                    return match codec.to_ascii_lowercase().replace('-', "_").as_str() {
                        "rot13" | "rot_13" => Some(fold::rot13(&s)),
                        "base64" => fold::base64_decode(&s),
                        "hex" => fold::hex_decode(&s),
                        _ => Some(s),
                    };
                }
                "lower" | "upper" | "strip" | "lstrip" | "rstrip" if args.pos.is_empty() => {
                    let s = String::from_utf8(self.fold(obj, depth + 1)?).ok()?;
                    let s = match method.as_str() {
                        "lower" => s.to_lowercase(),
                        "upper" => s.to_uppercase(),
                        "strip" => s.trim().to_owned(),
                        "lstrip" => s.trim_start().to_owned(),
                        _ => s.trim_end().to_owned(),
                    };
                    return Some(s.into_bytes());
                }
                "replace" => {
                    let s = String::from_utf8(self.fold(obj, depth + 1)?).ok()?;
                    let a = self.fold_str(*args.pos.first()?, depth + 1)?;
                    let b = self.fold_str(*args.pos.get(1)?, depth + 1)?;
                    if a.is_empty() {
                        return None;
                    }
                    let r = s.replace(&a, &b);
                    return (r.len() <= fold::MAX_FOLDED).then(|| r.into_bytes());
                }
                "fromhex" => return fold::hex_decode(&self.fold(*args.pos.first()?, depth + 1)?),
                _ => {}
            }
        }
        if f.kind() == "identifier" {
            match self.text(f) {
                "chr" => {
                    let v = self.fold_int(*args.pos.first()?, depth + 1)?;
                    let c = char::from_u32(u32::try_from(v).ok()?)?;
                    return Some(c.to_string().into_bytes());
                }
                "str" | "bytes" | "bytearray" => {
                    let a = *args.pos.first()?;
                    if matches!(a.kind(), "list" | "tuple") {
                        let mut out = Vec::new();
                        for ch in named_children(a) {
                            out.push(u8::try_from(self.fold_int(ch, depth + 1)?).ok()?);
                            if out.len() > fold::MAX_FOLDED {
                                return None;
                            }
                        }
                        return Some(out);
                    }
                    return self.fold(a, depth + 1);
                }
                _ => {}
            }
        }
        let quals = self.resolve(f, depth + 1, 0);
        for q in quals {
            let q = tables::canonical(&q).into_owned();
            let arg = |w: &mut Self| -> Option<Vec<u8>> {
                let a = args.arg(0, "s").or_else(|| args.arg(0, "data"))?;
                w.fold(a, depth + 1)
            };
            let v = match q.as_str() {
                "base64.b64decode"
                | "base64.standard_b64decode"
                | "base64.urlsafe_b64decode"
                | "base64.decodebytes"
                | "base64.decodestring"
                | "binascii.a2b_base64" => fold::base64_decode(&arg(self)?),
                "base64.b16decode" | "binascii.unhexlify" | "binascii.a2b_hex" => {
                    fold::hex_decode(&arg(self)?)
                }
                "zlib.decompress" => fold::decompress("zlib", &arg(self)?),
                "gzip.decompress" => fold::decompress("gzip", &arg(self)?),
                "bz2.decompress" => fold::decompress("bz2", &arg(self)?),
                "codecs.decode" | "codecs.encode" => {
                    let s = arg(self)?;
                    let codec = match args.arg(1, "encoding") {
                        Some(a) => self.fold_str(a, depth + 1)?,
                        None => String::new(),
                    };
                    match codec.to_ascii_lowercase().replace('-', "_").as_str() {
                        "rot13" | "rot_13" => Some(fold::rot13(&s)),
                        "base64" | "base_64" => fold::base64_decode(&s),
                        "hex" => fold::hex_decode(&s),
                        "zlib" | "zip" => fold::decompress("zlib", &s),
                        _ => Some(s),
                    }
                }
                _ => None,
            };
            if v.is_some() {
                return v;
            }
        }
        None
    }

    // ----- pass 2: judging ----------------------------------------------------------------------

    fn context(&self, at: Where) -> String {
        match at {
            Where::Import => "module level: runs on import".into(),
            Where::Function {
                name,
                import_time: true,
            } => format!(
                "in `{}`, which is called on import",
                String::from_utf8_lossy(self.src.get(name.0..name.1).unwrap_or_default())
            ),
            Where::Function { name, .. } => format!(
                "in `{}`",
                String::from_utf8_lossy(self.src.get(name.0..name.1).unwrap_or_default())
            ),
            Where::Main => {
                "in the `if __name__ == \"__main__\"` block: runs only as a script".into()
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn issue(
        &mut self,
        rule: &'static str,
        severity: Severity,
        node: Node<'_>,
        at: Where,
        name: &str,
        what: &str,
        extra: serde_json::Value,
    ) {
        let line = node.start_position().row + 1;
        if self.out.issues.len() >= MAX_ISSUES || !self.seen.insert((rule, line, name.to_owned())) {
            return;
        }
        let code: String = self
            .text(node)
            .lines()
            .next()
            .unwrap_or("")
            .chars()
            .take(160)
            .collect();
        let context = self.context(at);
        let when = if at.import_time() {
            "on import"
        } else {
            "when called"
        };
        let mut evidence = json!({ "line": line, "name": name, "context": context, "code": code });
        if let (Some(map), serde_json::Value::Object(more)) = (evidence.as_object_mut(), extra) {
            map.extend(more);
        }
        self.out.issues.push(
            Issue::new(
                rule,
                format!("Python {what}: `{name}` at line {line} ({when})"),
                format!(
                    "Line {line} ({context}) {what} through `{name}`. Custom code is imported by \
                     `trust_remote_code=True` loaders, so this runs on the loading machine."
                ),
                evidence,
            )
            .severity(severity)
            .at(node.start_byte() as u64),
        );
    }

    fn collect_locals(&self, func: Node<'t>) -> HashSet<String> {
        let mut names = HashSet::new();
        if let Some(params) = func.child_by_field_name("parameters") {
            for p in named_children(params) {
                let id = match p.kind() {
                    "identifier" => Some(p),
                    "default_parameter" | "typed_default_parameter" => {
                        p.child_by_field_name("name")
                    }
                    _ => named_children(p)
                        .into_iter()
                        .find(|c| c.kind() == "identifier")
                        .or_else(|| {
                            named_children(p)
                                .into_iter()
                                .flat_map(named_children)
                                .find(|c| c.kind() == "identifier")
                        }),
                };
                if let Some(id) = id {
                    names.insert(self.text(id).to_owned());
                }
            }
        }
        let Some(body) = func.child_by_field_name("body") else {
            return names;
        };
        let mut globals = Vec::new();
        let mut stack = vec![body];
        let mut seen = 0usize;
        while let Some(n) = stack.pop() {
            seen += 1;
            if seen > 200_000 {
                break;
            }
            let targets: Vec<Node<'t>> = match n.kind() {
                "function_definition" | "class_definition" => {
                    if let Some(id) = n.child_by_field_name("name") {
                        names.insert(self.text(id).to_owned());
                    }
                    continue;
                }
                "lambda"
                | "list_comprehension"
                | "generator_expression"
                | "set_comprehension"
                | "dictionary_comprehension" => continue,
                "global_statement" | "nonlocal_statement" => {
                    globals.extend(
                        named_children(n)
                            .into_iter()
                            .map(|i| self.text(i).to_owned()),
                    );
                    continue;
                }
                "assignment" | "augmented_assignment" | "for_statement" => {
                    n.child_by_field_name("left").into_iter().collect()
                }
                "named_expression" => n.child_by_field_name("name").into_iter().collect(),
                "as_pattern_target" => vec![n],
                "import_statement" | "import_from_statement" => {
                    let mut c = n.walk();
                    n.children_by_field_name("name", &mut c)
                        .map(|x| match x.kind() {
                            "aliased_import" => x.child_by_field_name("alias").unwrap_or(x),
                            _ => x,
                        })
                        .collect()
                }
                _ => Vec::new(),
            };
            for t in targets {
                let mut tstack = vec![t];
                while let Some(t) = tstack.pop() {
                    match t.kind() {
                        "identifier" => {
                            names.insert(self.text(t).to_owned());
                        }
                        "dotted_name" => {
                            if let Some(first) = t.named_child(0) {
                                names.insert(self.text(first).to_owned());
                            }
                        }
                        "pattern_list"
                        | "tuple_pattern"
                        | "list_pattern"
                        | "as_pattern_target"
                        | "list_splat_pattern"
                        | "parenthesized_expression"
                            if tstack.len() < 1024 =>
                        {
                            tstack.extend(named_children(t));
                        }
                        _ => {}
                    }
                }
            }
            if !matches!(n.kind(), "import_statement" | "import_from_statement") {
                stack.extend(named_children(n));
            }
        }
        for g in globals {
            names.remove(&g);
        }
        names
    }

    /// Pass 2.
    fn judge(&mut self, root: Node<'t>) {
        let mut stack = vec![Frame {
            node: root,
            at: Where::Import,
            scope: 0,
            parent: "",
            class_at_import: false,
            in_class: false,
        }];
        while let Some(fr) = stack.pop() {
            let node = fr.node;
            let kind = node.kind();
            let mut next: Vec<Frame<'t>> = Vec::new();
            let child = |n: Node<'t>| Frame {
                node: n,
                parent: kind,
                ..fr
            };
            if (node.is_error() || node.is_missing()) && self.out.error_regions.len() < 64 {
                {
                    self.out
                        .error_regions
                        .push((node.start_byte(), node.end_byte()));
                }
            }
            match kind {
                "import_statement"
                | "import_from_statement"
                | "future_import_statement"
                | "comment" => {}
                "function_definition" => {
                    let name = node
                        .child_by_field_name("name")
                        .map_or((0, 0), |n| (n.start_byte(), n.end_byte()));
                    let fname = self.text_range(name).to_owned();
                    let import_time = (fr.scope == 0
                        && fr.at == Where::Import
                        && !fr.in_class
                        && self.import_time_names.contains(&fname))
                        || (fr.class_at_import
                            && matches!(fname.as_str(), "__init__" | "__new__" | "__post_init__"))
                        || matches!(
                            fr.at,
                            Where::Function {
                                import_time: true,
                                ..
                            }
                        );
                    let scope = if self.scopes.len() < MAX_SCOPES {
                        let names = self.collect_locals(node);
                        self.scopes.push(Scope {
                            parent: fr.scope,
                            names,
                        });
                        self.scopes.len() - 1
                    } else {
                        fr.scope
                    };
                    if let Some(p) = node.child_by_field_name("parameters") {
                        for d in named_children(p) {
                            if let Some(v) = d.child_by_field_name("value") {
                                next.push(child(v));
                            }
                        }
                    }
                    if let Some(b) = node.child_by_field_name("body") {
                        next.push(Frame {
                            node: b,
                            at: Where::Function { name, import_time },
                            scope,
                            parent: kind,
                            class_at_import: false,
                            in_class: false,
                        });
                    }
                }
                "lambda" => {
                    // Default values run where the lambda is defined.
                    if let Some(p) = node.child_by_field_name("parameters") {
                        next.push(child(p));
                    }
                    if let Some(b) = node.child_by_field_name("body") {
                        next.push(Frame {
                            at: Where::Function {
                                name: (node.start_byte(), node.start_byte() + 6),
                                import_time: fr.at.import_time(),
                            },
                            ..child(b)
                        });
                    }
                }
                "class_definition" => {
                    let name = node
                        .child_by_field_name("name")
                        .map(|n| self.text(n).to_owned())
                        .unwrap_or_default();
                    let at_import = fr.at.import_time() && self.import_time_names.contains(&name);
                    for c in named_children(node) {
                        if c.kind() != "identifier" {
                            next.push(Frame {
                                class_at_import: at_import,
                                in_class: true,
                                ..child(c)
                            });
                        }
                    }
                }
                "if_statement" => {
                    let guard = node
                        .child_by_field_name("condition")
                        .is_some_and(|c| is_main_guard(self.text(c).as_bytes()));
                    let cons = node.child_by_field_name("consequence").map(|c| c.id());
                    for c in named_children(node) {
                        if guard && Some(c.id()) == cons {
                            next.push(Frame {
                                at: Where::Main,
                                ..child(c)
                            });
                        } else {
                            next.push(child(c));
                        }
                    }
                }
                "assignment" | "augmented_assignment" => {
                    if let Some(l) = node.child_by_field_name("left") {
                        self.check_assign_target(l, fr);
                    }
                    if let Some(r) = node.child_by_field_name("right") {
                        next.push(child(r));
                    }
                    if let Some(t) = node.child_by_field_name("type") {
                        next.push(child(t));
                    }
                }
                "keyword_argument" => {
                    if let Some(v) = node.child_by_field_name("value") {
                        next.push(child(v));
                    }
                }
                "parameters" | "lambda_parameters" => {
                    for d in named_children(node) {
                        if let Some(v) = d.child_by_field_name("value") {
                            next.push(child(v));
                        }
                    }
                }
                "attribute" => {
                    self.check_ref(node, fr);
                    if let Some(a) = node.child_by_field_name("attribute") {
                        let attr = self.text(a);
                        if matches!(attr, "__subclasses__" | "__globals__" | "__builtins__") {
                            let attr = attr.to_owned();
                            self.issue(
                                "MS853",
                                Severity::High,
                                node,
                                fr.at,
                                &attr,
                                "walks interpreter internals",
                                json!({}),
                            );
                        }
                    }
                    if let Some(o) = node.child_by_field_name("object") {
                        next.push(child(o));
                    }
                }
                "identifier" => self.check_ref(node, fr),
                "subscript" => {
                    self.check_subscript(node, fr);
                    next.extend(named_children(node).into_iter().map(child));
                }
                "call" => {
                    self.check_call(node, fr);
                    self.check_ref(node, fr);
                    next.extend(named_children(node).into_iter().map(child));
                }
                "exec_statement" => {
                    self.issue(
                        "MS851",
                        Severity::Critical,
                        node,
                        fr.at,
                        "exec",
                        "runs dynamically built code",
                        json!({}),
                    );
                    next.extend(named_children(node).into_iter().map(child));
                }
                "string" => {
                    if fr.parent != "expression_statement" {
                        self.check_string(node, fr);
                    }
                    next.extend(
                        named_children(node)
                            .into_iter()
                            .filter(|c| c.kind() == "interpolation")
                            .map(child),
                    );
                }
                _ => next.extend(named_children(node).into_iter().map(child)),
            }
            stack.extend(next.into_iter().rev());
        }
    }

    fn text_range(&self, r: (usize, usize)) -> &str {
        self.src
            .get(r.0..r.1)
            .and_then(|b| std::str::from_utf8(b).ok())
            .unwrap_or("")
    }

    fn check_assign_target(&mut self, l: Node<'t>, fr: Frame<'t>) {
        if l.kind() != "attribute" {
            return;
        }
        for q in self.resolve(l, 0, fr.scope) {
            self.check_hook_target(&q, l, fr);
        }
    }

    /// Replacing `q` (by assignment or `setattr`) installs a hook when `q` is an interpreter
    /// hook or a builtin.
    fn check_hook_target(&mut self, q: &str, node: Node<'t>, fr: Frame<'t>) {
        let q = tables::canonical(q).into_owned();
        let hook = matches!(
            q.as_str(),
            "sys.excepthook" | "sys.displayhook" | "sys.breakpointhook" | "sys.unraisablehook"
        ) || (q.starts_with("builtins.") && q.matches('.').count() == 1);
        if hook {
            self.issue(
                "MS859",
                Severity::High,
                node,
                fr.at,
                &q,
                "replaces an interpreter hook or builtin",
                json!({}),
            );
        }
    }

    /// A reference (name, attribute, resolved call) to something dangerous in itself.
    fn check_ref(&mut self, node: Node<'t>, fr: Frame<'t>) {
        let quals = self.resolve(node, 0, fr.scope);
        for q in quals {
            let canon = tables::canonical(&q).into_owned();
            if canon == "os.environ"
                && matches!(
                    fr.parent,
                    "argument_list"
                        | "interpolation"
                        | "for_statement"
                        | "for_in_clause"
                        | "list"
                        | "tuple"
                        | "set"
                        | "pair"
                        | "dictionary_splat"
                        | "list_splat"
                        | "return_statement"
                )
                || matches!(
                    canon.as_str(),
                    "os.environ.copy"
                        | "os.environ.items"
                        | "os.environ.keys"
                        | "os.environ.values"
                        | "os.environ.__repr__"
                        | "os.environ.__str__"
                        | "os.environ._data"
                )
            {
                let sev = if fr.at.import_time() {
                    Severity::High
                } else {
                    Severity::Medium
                };
                self.issue(
                    "MS857",
                    sev,
                    node,
                    fr.at,
                    "os.environ",
                    "reads the whole environment",
                    json!({}),
                );
                continue;
            }
            let Some((cat, label)) = tables::classify(&canon) else {
                continue;
            };
            let (rule, sev, what) = match cat {
                Cat::Command => ("MS850", Severity::Critical, "runs a command"),
                Cat::Code => ("MS851", Severity::Critical, "runs dynamically built code"),
                Cat::Native => ("MS858", Severity::High, "loads native code"),
                Cat::NativeBuild => (
                    "MS858",
                    Severity::Low,
                    "compiles and loads C++/CUDA sources (not analysed)",
                ),
                Cat::Hook => ("MS859", Severity::High, "installs an interpreter hook"),
                Cat::AtExit => ("MS859", Severity::Low, "registers an exit handler"),
                Cat::FileImport => (
                    "MS852",
                    if fr.at.import_time() {
                        Severity::High
                    } else {
                        Severity::Low
                    },
                    "loads a Python module from a file",
                ),
                _ => continue,
            };
            self.issue(
                rule,
                sev,
                node,
                fr.at,
                label,
                what,
                json!({ "resolved": q }),
            );
        }
    }

    fn check_subscript(&mut self, node: Node<'t>, fr: Frame<'t>) {
        let Some(value) = node.child_by_field_name("value") else {
            return;
        };
        let quals = self.resolve(value, 0, fr.scope);
        if quals
            .iter()
            .any(|q| matches!(&*tables::canonical(q), "os.environ" | "os.environb"))
            && let Some(key) = node.child_by_field_name("subscript")
            && let Some(k) = self.fold_str(key, 0)
            && tables::is_secret_env(&k)
        {
            self.issue(
                "MS857",
                Severity::High,
                node,
                fr.at,
                &k,
                "reads a secret from the environment",
                json!({ "variable": k }),
            );
        }
        self.check_ref(node, fr);
    }

    fn check_string(&mut self, node: Node<'t>, fr: Frame<'t>) {
        let Some(v) = fold::string_value(node, self.src) else {
            return;
        };
        let s = String::from_utf8_lossy(&v);
        if let Some(p) = tables::credential_path(&s) {
            self.issue(
                "MS857",
                Severity::High,
                node,
                fr.at,
                p,
                "names a credential file",
                json!({ "path": s.chars().take(200).collect::<String>() }),
            );
        }
    }

    /// Visits a bounded subtree; true when `pred` holds for some node.
    fn subtree_any(
        &mut self,
        node: Node<'t>,
        mut pred: impl FnMut(&mut Self, Node<'t>) -> bool,
    ) -> bool {
        let mut stack = vec![node];
        let mut n = 0;
        while let Some(x) = stack.pop() {
            n += 1;
            if n > MAX_SUBTREE || !self.spend() {
                return false;
            }
            if pred(self, x) {
                return true;
            }
            if x.kind() == "identifier" {
                // Follow a local variable to what was assigned to it.
                if let Some(values) = self.assigned.get(self.text(x)) {
                    stack.extend(values.iter().copied());
                }
            } else {
                stack.extend(named_children(x));
            }
        }
        false
    }

    fn refers_to(&mut self, node: Node<'t>, scope: usize, cats: &[Cat]) -> bool {
        self.subtree_any(node, |w, x| {
            matches!(x.kind(), "identifier" | "attribute" | "call")
                && w.resolve(x, 0, scope)
                    .iter()
                    .any(|q| tables::classify(q).is_some_and(|(c, _)| cats.contains(&c)))
        })
    }

    fn reads_env(&mut self, node: Node<'t>, scope: usize) -> bool {
        self.subtree_any(node, |w, x| {
            matches!(x.kind(), "identifier" | "attribute")
                && w.resolve(x, 0, scope).iter().any(|q| {
                    let q = tables::canonical(q);
                    q.starts_with("os.environ") || q.starts_with("os.getenv")
                })
        })
    }

    fn path_sensitive(&mut self, node: Node<'t>, scope: usize) -> bool {
        if let Some(s) = self.fold_str(node, 0)
            && tables::sensitive_write_path(&s)
        {
            return true;
        }
        self.subtree_any(node, |w, x| match x.kind() {
            "string" => fold::string_value(x, w.src).is_some_and(|v| {
                let s = String::from_utf8_lossy(&v);
                tables::sensitive_write_path(&s)
            }),
            "call" => x.child_by_field_name("function").is_some_and(|f| {
                w.resolve(f, 0, scope)
                    .iter()
                    .any(|q| tables::is_path_escape_call(q))
            }),
            _ => false,
        })
    }

    fn constant_address(&mut self, args: &Args<'t>) -> Option<String> {
        let nodes: Vec<Node<'t>> = args.all().collect();
        for a in nodes {
            let candidates: Vec<Node<'t>> = if matches!(a.kind(), "tuple" | "list") {
                named_children(a)
            } else {
                vec![a]
            };
            for c in candidates {
                if let Some(s) = self.fold_str(c, 0) {
                    let l = s.to_ascii_lowercase();
                    let ip =
                        s.split('.').count() == 4 && s.split('.').all(|p| p.parse::<u8>().is_ok());
                    if l.starts_with("http://")
                        || l.starts_with("https://")
                        || l.starts_with("ftp://")
                        || l.starts_with("ws://")
                        || l.starts_with("wss://")
                        || ip
                        || l == "localhost"
                    {
                        return Some(s);
                    }
                }
            }
        }
        None
    }

    /// A command that only asks a GPU toolchain for its version (`[cuda_home + "/bin/nvcc", "-V"]`,
    /// `"nvidia-smi --query-gpu=name --format=csv"`): remote-code kernels do this at import.
    fn toolchain_probe(&mut self, args: &Args<'t>) -> bool {
        const PROGRAMS: &[&str] = &["nvcc", "nvidia-smi", "hipcc", "rocm-smi", "rocminfo"];
        let Some(first) = args.arg(0, "args").or_else(|| args.arg(0, "cmd")) else {
            return false;
        };
        let words: Vec<String> = if matches!(first.kind(), "list" | "tuple") {
            let items = named_children(first);
            let mut words = Vec::new();
            for (i, item) in items.into_iter().enumerate() {
                let w = match self.fold_str(item, 0) {
                    Some(w) => w,
                    // `cuda_home + "/bin/nvcc"`: the program's name is the constant suffix.
                    None if i == 0 && item.kind() == "binary_operator" => {
                        match item
                            .child_by_field_name("right")
                            .and_then(|r| self.fold_str(r, 0))
                        {
                            Some(w) if w.starts_with('/') => w,
                            _ => return false,
                        }
                    }
                    None => return false,
                };
                words.push(w);
            }
            words
        } else {
            match self.fold_str(first, 0) {
                Some(s) => s.split_whitespace().map(str::to_owned).collect(),
                None => return false,
            }
        };
        let Some((program, flags)) = words.split_first() else {
            return false;
        };
        let name = program.rsplit('/').next().unwrap_or(program);
        PROGRAMS.contains(&name)
            && flags.iter().all(|f| {
                f.starts_with('-') && !f.contains([';', '|', '&', '$', '`', '>', '<', '(', '\n'])
            })
    }

    #[allow(clippy::too_many_lines)]
    fn check_call(&mut self, node: Node<'t>, fr: Frame<'t>) {
        let Some(f) = node.child_by_field_name("function") else {
            return;
        };
        let args = self.args(node);
        let at = fr.at;
        let import_time = at.import_time();
        let quals = self.resolve(f, 0, fr.scope);
        // `setattr(builtins, "open", spy)` is `builtins.open = spy`.
        if quals
            .iter()
            .any(|q| tables::canonical(q) == "builtins.setattr")
            && let (Some(o), Some(n)) = (args.pos.first(), args.pos.get(1))
            && let Some(name) = self.fold_str(*n, 0)
        {
            for b in self.resolve(*o, 0, fr.scope) {
                self.check_hook_target(&format!("{b}.{name}"), node, fr);
            }
        }
        for q in &quals {
            let Some((cat, label)) = tables::classify(q) else {
                continue;
            };
            match cat {
                Cat::Command if self.toolchain_probe(&args) => {
                    self.issue(
                        "MS850",
                        Severity::Low,
                        node,
                        at,
                        label,
                        "runs a constant toolchain probe",
                        json!({ "resolved": q, "probe": true }),
                    );
                }
                Cat::Code => {
                    let mut extra = json!({ "resolved": q });
                    if let Some(a) = args.arg(0, "source")
                        && let Some(v) = self.fold(a, 0)
                        && v.len() >= 4
                    {
                        let line = node.start_position().row + 1;
                        let preview: String =
                            String::from_utf8_lossy(&v).chars().take(200).collect();
                        extra["decoded"] = json!(preview);
                        extra["decoded_from_expression"] = json!(a.kind() != "string");
                        if self.out.payloads.len() < MAX_PAYLOADS {
                            self.out.payloads.push(Payload {
                                name: format!("exec-payload@L{line}.py"),
                                data: v,
                                ext: "py",
                            });
                        }
                    }
                    self.issue(
                        "MS851",
                        Severity::Critical,
                        node,
                        at,
                        label,
                        "runs dynamically built code",
                        extra,
                    );
                }
                Cat::DynImport => {
                    if let Some(a) = args.arg(0, "name")
                        && self.fold(a, 0).is_none()
                    {
                        // `import_module(f".{name}", __package__)`: a module of the repository's own
                        // package, which is scanned as a file of its own.
                        let own_package = args
                            .arg(1, "package")
                            .is_some_and(|p| matches!(self.text(p), "__package__" | "__name__"))
                            && self.starts_with_dot(a);
                        let sev = if import_time && !own_package {
                            Severity::High
                        } else {
                            Severity::Low
                        };
                        self.issue(
                            "MS852",
                            sev,
                            node,
                            at,
                            label,
                            "imports a module whose name is computed",
                            json!({}),
                        );
                    }
                }
                Cat::GetAttr => {
                    if let (Some(o), Some(n)) = (args.pos.first(), args.pos.get(1))
                        && self.fold(*n, 0).is_none()
                    {
                        let bases = self.resolve(*o, 0, fr.scope);
                        if let Some(b) = bases.iter().find(|b| tables::is_dangerous_module(b)) {
                            let b = b.clone();
                            self.issue(
                                "MS853",
                                Severity::High,
                                node,
                                at,
                                &format!("getattr({b}, …)"),
                                "looks up a computed name on a dangerous module",
                                json!({ "module": b }),
                            );
                        }
                    }
                }
                Cat::Deser => self.check_deser(node, &args, fr, q, label),
                Cat::Network | Cat::RawNetwork => {
                    let addr = self.constant_address(&args);
                    let env = args.all().collect::<Vec<_>>().into_iter().any(|a| {
                        self.reads_env(a, fr.scope)
                            || self.subtree_any(a, |w, x| {
                                x.kind() == "string"
                                    && fold::string_value(x, w.src).is_some_and(|v| {
                                        tables::credential_path(&String::from_utf8_lossy(&v))
                                            .is_some()
                                    })
                            })
                    });
                    let sends = ["post", "put", "patch"]
                        .iter()
                        .any(|m| label.ends_with(&format!(".{m}")));
                    let high =
                        cat == Cat::RawNetwork || import_time || addr.is_some() || env || sends;
                    let sev = if high { Severity::High } else { Severity::Low };
                    self.issue(
                        "MS855",
                        sev,
                        node,
                        at,
                        label,
                        if env {
                            "sends environment data over the network"
                        } else {
                            "opens a network connection"
                        },
                        json!({ "address": addr, "sends_environment": env }),
                    );
                }
                Cat::Hub => {
                    let repo = args.arg(0, "repo_id").and_then(|a| self.fold_str(a, 0));
                    let sev = if import_time {
                        Severity::High
                    } else {
                        Severity::Low
                    };
                    self.issue(
                        "MS860",
                        sev,
                        node,
                        at,
                        label,
                        "downloads from a model hub",
                        json!({ "repo_id": repo }),
                    );
                }
                Cat::Open => {
                    let mode = args.arg(1, "mode").and_then(|m| self.fold_str(m, 0));
                    let write = mode
                        .as_deref()
                        .is_some_and(|m| m.contains(['w', 'a', 'x', '+']));
                    if write
                        && let Some(p) = args.arg(0, "file")
                        && (import_time || self.path_sensitive(p, fr.scope))
                    {
                        let path = self.fold_str(p, 0);
                        self.issue(
                            "MS856",
                            Severity::High,
                            node,
                            at,
                            label,
                            "writes a file",
                            json!({ "mode": mode, "path": path }),
                        );
                    }
                }
                Cat::FileChange => {
                    let nodes: Vec<Node<'t>> = args.pos.clone();
                    let sensitive = nodes.iter().any(|p| self.path_sensitive(*p, fr.scope));
                    if sensitive || (import_time && label != "os.open") {
                        self.issue(
                            "MS856",
                            Severity::High,
                            node,
                            at,
                            label,
                            "changes or deletes files",
                            json!({}),
                        );
                    }
                }
                Cat::EnvGet => {
                    if let Some(k) = args.arg(0, "key").and_then(|k| self.fold_str(k, 0))
                        && tables::is_secret_env(&k)
                    {
                        self.issue(
                            "MS857",
                            Severity::High,
                            node,
                            at,
                            &k,
                            "reads a secret from the environment",
                            json!({ "variable": k, "resolved": q }),
                        );
                    }
                }
                Cat::FileImport
                    if args.all().collect::<Vec<_>>().into_iter().any(|a| {
                        self.refers_to(a, fr.scope, &[Cat::Hub, Cat::Network, Cat::RawNetwork])
                    }) =>
                {
                    self.issue(
                        "MS852",
                        Severity::Critical,
                        node,
                        at,
                        label,
                        "loads a Python module from a downloaded file",
                        json!({ "resolved": q }),
                    );
                }
                Cat::Token => self.issue(
                    "MS857",
                    Severity::High,
                    node,
                    at,
                    label,
                    "reads the user's hub token",
                    json!({}),
                ),
                _ => {}
            }
        }
        // Methods judged by name, whatever the object.
        if f.kind() == "attribute"
            && let (Some(obj), Some(m)) = (
                f.child_by_field_name("object"),
                f.child_by_field_name("attribute"),
            )
        {
            let method = self.text(m).to_owned();
            match method.as_str() {
                "write_text" | "write_bytes" | "symlink_to" | "hardlink_to" | "touch"
                | "unlink" | "rmdir" => {
                    let pathlike = !matches!(method.as_str(), "unlink" | "rmdir")
                        || self.text(obj).contains("Path");
                    if pathlike
                        && (self.path_sensitive(obj, fr.scope)
                            || (import_time && method != "touch"))
                    {
                        self.issue(
                            "MS856",
                            Severity::High,
                            node,
                            at,
                            &format!("Path.{method}"),
                            "writes or deletes a file",
                            json!({}),
                        );
                    }
                }
                "from_pretrained"
                    if args
                        .kw("trust_remote_code")
                        .is_some_and(|v| self.text(v) == "True") =>
                {
                    let repo = args
                        .arg(0, "pretrained_model_name_or_path")
                        .and_then(|a| self.fold_str(a, 0));
                    let sev = if import_time {
                        Severity::High
                    } else {
                        Severity::Low
                    };
                    self.issue(
                        "MS860",
                        sev,
                        node,
                        at,
                        "from_pretrained(trust_remote_code=True)",
                        "loads another repository's custom code",
                        json!({ "repo_id": repo }),
                    );
                }
                "dlopen" => self.issue(
                    "MS858",
                    Severity::High,
                    node,
                    at,
                    "dlopen",
                    "loads native code",
                    json!({}),
                ),
                "exec_module" | "load_module" => {
                    let downloaded = args.all().collect::<Vec<_>>().into_iter().any(|a| {
                        self.refers_to(a, fr.scope, &[Cat::Hub, Cat::Network, Cat::RawNetwork])
                    });
                    let sev = if downloaded {
                        Severity::Critical
                    } else if import_time {
                        Severity::High
                    } else {
                        Severity::Low
                    };
                    self.issue(
                        "MS852",
                        sev,
                        node,
                        at,
                        &method,
                        "executes a module loaded by a custom loader",
                        json!({}),
                    );
                }
                "system" | "popen" | "Popen" | "check_output" | "check_call" | "getoutput"
                | "spawnv" | "execv" | "execvp" | "execl" | "execlp"
                    if quals.is_empty() && obj.kind() == "call" =>
                {
                    // `__import__(name).system(…)` with a computed name.
                    let dynamic = obj.child_by_field_name("function").is_some_and(|g| {
                        self.resolve(g, 0, fr.scope).iter().any(|q| {
                            matches!(
                                tables::classify(q),
                                Some((Cat::DynImport | Cat::GetAttr, _))
                            )
                        })
                    });
                    if dynamic {
                        self.issue(
                            "MS850",
                            Severity::Critical,
                            node,
                            at,
                            &format!("<dynamic module>.{method}"),
                            "runs a command",
                            json!({}),
                        );
                    }
                }
                "post" | "put" | "patch" | "request" | "get" | "send" | "sendall" | "connect"
                    if quals.is_empty() =>
                {
                    // `requests.Session().post(…)`, `sock.connect((host, port))`.
                    let net = self.refers_to(obj, fr.scope, &[Cat::Network, Cat::RawNetwork]);
                    if net {
                        let addr = self.constant_address(&args);
                        let env = args
                            .all()
                            .collect::<Vec<_>>()
                            .into_iter()
                            .any(|a| self.reads_env(a, fr.scope));
                        let sev = if import_time
                            || addr.is_some()
                            || env
                            || matches!(
                                method.as_str(),
                                "post" | "put" | "patch" | "sendall" | "send"
                            ) {
                            Severity::High
                        } else {
                            Severity::Low
                        };
                        self.issue(
                            "MS855",
                            sev,
                            node,
                            at,
                            &format!("….{method}"),
                            "opens a network connection",
                            json!({ "address": addr, "sends_environment": env }),
                        );
                    }
                }
                _ => {}
            }
        }
    }

    fn check_deser(
        &mut self,
        node: Node<'t>,
        args: &Args<'t>,
        fr: Frame<'t>,
        q: &str,
        label: &str,
    ) {
        let at = fr.at;
        let text_of = |w: &Self, n: Option<Node<'t>>| n.map(|n| w.text(n).to_owned());
        match label {
            "torch.load" | "torch.serialization.load"
                if text_of(self, args.kw("weights_only")).as_deref() == Some("True") =>
            {
                return;
            }
            "numpy.load" if text_of(self, args.kw("allow_pickle")).as_deref() != Some("True") => {
                return;
            }
            "yaml.load" | "yaml.load_all" => {
                let loader = text_of(self, args.arg(1, "Loader")).unwrap_or_default();
                if loader.contains("Safe") || loader.contains("BaseLoader") {
                    return;
                }
            }
            _ => {}
        }
        let Some(data) = args.arg(0, "data").or_else(|| args.arg(0, "f")) else {
            return;
        };
        let line = node.start_position().row + 1;
        let constant = if label.ends_with("loads") {
            self.fold(data, 0)
        } else {
            None
        };
        let networked = self.refers_to(data, fr.scope, &[Cat::Network, Cat::RawNetwork]);
        let hub = self.refers_to(data, fr.scope, &[Cat::Hub]);
        let (sev, why) = if constant.is_some() {
            (Severity::Critical, "unpickles data embedded in the file")
        } else if networked {
            (
                Severity::Critical,
                "unpickles data fetched from the network",
            )
        } else if hub || at.import_time() {
            (Severity::High, "unpickles data")
        } else {
            (Severity::Low, "unpickles data")
        };
        if let Some(v) = constant
            && self.out.payloads.len() < MAX_PAYLOADS
        {
            self.out.payloads.push(Payload {
                name: format!("pickle-payload@L{line}.pkl"),
                data: v,
                ext: "pkl",
            });
        }
        self.issue("MS854", sev, node, at, label, why, json!({ "resolved": q }));
    }
}
