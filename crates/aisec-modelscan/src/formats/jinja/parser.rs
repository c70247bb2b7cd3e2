//! A recursive-descent Jinja parser: tags to an AST of statements and expressions.
//!
//! Each tag is parsed on its own, so a syntax error costs only that tag: its tokens are kept
//! (the analyser still looks at them) and the block structure is rebuilt around it. Expression
//! depth and block nesting are bounded; nothing is ever rendered.

use super::lexer::{Lexed, Piece, Span, TagKind, Tok, Token};

/// Deepest expression tree accepted (parentheses, operator chains, attribute chains).
pub(crate) const MAX_EXPR_DEPTH: usize = 100;
/// Deepest nesting of block statements accepted.
pub(crate) const MAX_NESTING: usize = 100;

/// An expression.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Expr {
    pub kind: ExprKind,
    pub span: Span,
    /// Height of the tree below and including this node.
    pub depth: usize,
}

/// A keyword argument or a dict entry key.
pub(crate) type Kwarg = (String, Expr);

/// Expression kinds.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ExprKind {
    Name(String),
    Str(String),
    Int(Option<i64>),
    /// Floats, `true`/`false`/`none`: values the analysis never needs.
    Other,
    List(Vec<Expr>),
    Tuple(Vec<Expr>),
    Dict(Vec<(Expr, Expr)>),
    Attr(Box<Expr>, String),
    Item(Box<Expr>, Box<Expr>),
    Slice(Option<Box<Expr>>, Option<Box<Expr>>, Option<Box<Expr>>),
    Call {
        func: Box<Expr>,
        args: Vec<Expr>,
        kwargs: Vec<Kwarg>,
    },
    Filter {
        expr: Box<Expr>,
        name: String,
        args: Vec<Expr>,
        kwargs: Vec<Kwarg>,
    },
    Test {
        expr: Box<Expr>,
        name: String,
        args: Vec<Expr>,
    },
    Binary(&'static str, Box<Expr>, Box<Expr>),
    Unary(&'static str, Box<Expr>),
    Cond(Box<Expr>, Box<Expr>, Option<Box<Expr>>),
    /// The value a filter block or a filtered `set` block applies its filters to.
    Hole,
}

impl Expr {
    fn new(kind: ExprKind, span: Span) -> Self {
        let mut e = Expr {
            kind,
            span,
            depth: 1,
        };
        e.depth = 1 + e.children().map(|c| c.depth).max().unwrap_or(0);
        e
    }

    /// The direct sub-expressions.
    pub(crate) fn children(&self) -> Box<dyn Iterator<Item = &Expr> + '_> {
        match &self.kind {
            ExprKind::Name(_)
            | ExprKind::Str(_)
            | ExprKind::Int(_)
            | ExprKind::Other
            | ExprKind::Hole => Box::new(std::iter::empty()),
            ExprKind::List(v) | ExprKind::Tuple(v) => Box::new(v.iter()),
            ExprKind::Dict(v) => Box::new(v.iter().flat_map(|(k, v)| [k, v])),
            ExprKind::Attr(e, _) | ExprKind::Unary(_, e) => Box::new(std::iter::once(&**e)),
            ExprKind::Item(a, b) | ExprKind::Binary(_, a, b) => Box::new([&**a, &**b].into_iter()),
            ExprKind::Slice(a, b, c) => Box::new([a, b, c].into_iter().flatten().map(|e| &**e)),
            ExprKind::Call { func, args, kwargs } => Box::new(
                std::iter::once(&**func)
                    .chain(args.iter())
                    .chain(kwargs.iter().map(|(_, e)| e)),
            ),
            ExprKind::Filter {
                expr, args, kwargs, ..
            } => Box::new(
                std::iter::once(&**expr)
                    .chain(args.iter())
                    .chain(kwargs.iter().map(|(_, e)| e)),
            ),
            ExprKind::Test { expr, args, .. } => {
                Box::new(std::iter::once(&**expr).chain(args.iter()))
            }
            ExprKind::Cond(a, b, c) => {
                Box::new([&**a, &**b].into_iter().chain(c.iter().map(|e| &**e)))
            }
        }
    }
}

/// What a `set`, `for` or `with` assigns to.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Target {
    Name(String),
    /// `ns.attr` (a namespace attribute).
    Ns(String, String),
    Tuple(Vec<Target>),
}

/// A statement; `span` is the span of its (opening) tag.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Stmt {
    pub kind: StmtKind,
    pub span: Span,
}

/// Statement kinds.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum StmtKind {
    Text(String),
    Output(Expr),
    If {
        branches: Vec<(Option<Expr>, Vec<Stmt>)>,
    },
    For {
        target: Target,
        iter: Expr,
        filter: Option<Expr>,
        body: Vec<Stmt>,
        else_body: Vec<Stmt>,
    },
    Set {
        target: Target,
        value: Expr,
    },
    SetBlock {
        target: Target,
        filter: Option<Expr>,
        body: Vec<Stmt>,
    },
    Macro {
        name: String,
        params: Vec<(String, Option<Expr>)>,
        body: Vec<Stmt>,
    },
    CallBlock {
        params: Vec<(String, Option<Expr>)>,
        call: Expr,
        body: Vec<Stmt>,
    },
    FilterBlock {
        filter: Expr,
        body: Vec<Stmt>,
    },
    With {
        bindings: Vec<(Target, Expr)>,
        body: Vec<Stmt>,
    },
    /// `block`, `autoescape`, `generation` and other blocks whose body renders in place.
    Block {
        name: String,
        args: Vec<Expr>,
        body: Vec<Stmt>,
    },
    /// `include`, `import`, `from … import`, `extends`.
    Load {
        tag: String,
        template: Expr,
    },
    /// `do`, `break`, `continue`, unknown tags: expressions to look at, nothing else.
    Other {
        tag: String,
        exprs: Vec<Expr>,
    },
    /// A tag that did not parse: its tokens, for the lexical checks.
    Broken {
        tokens: Vec<Token>,
    },
}

/// A syntax error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ParseError {
    pub offset: usize,
    pub message: String,
}

/// The parsed template.
#[derive(Debug, Default)]
pub(crate) struct Template {
    pub body: Vec<Stmt>,
    pub errors: Vec<ParseError>,
    /// A bound (depth, nesting, tokens) stopped the parse of some part.
    pub bounded: bool,
}

type PResult<T> = Result<T, ParseError>;

/// Parses a lexed template.
pub(crate) fn parse(lexed: Lexed) -> Template {
    let mut b = Builder {
        stack: vec![Frame {
            header: None,
            stmts: Vec::new(),
        }],
        out: Template::default(),
    };
    b.out.bounded = lexed.truncated;
    for (offset, message) in lexed.errors {
        b.out.errors.push(ParseError { offset, message });
    }
    for piece in lexed.pieces {
        match piece {
            Piece::Text { text, span } => b.push(Stmt {
                kind: StmtKind::Text(text),
                span,
            }),
            Piece::Tag {
                kind,
                span,
                tokens,
                error,
            } => b.tag(kind, span, tokens, error),
        }
    }
    while b.stack.len() > 1 {
        let offset = b
            .stack
            .last()
            .and_then(|f| f.header.as_ref())
            .map_or(0, |h| h.span.start as usize);
        b.out.errors.push(ParseError {
            offset,
            message: "block never closed".into(),
        });
        b.close();
    }
    if let Some(f) = b.stack.pop() {
        b.out.body = f.stmts;
    }
    b.out
}

/// An open block: its header and the statements of its current branch.
struct Frame {
    header: Option<Header>,
    stmts: Vec<Stmt>,
}

/// What an opening tag said, and the branches collected so far.
struct Header {
    name: String,
    span: Span,
    kind: StmtKind,
    /// Finished branches of an `if` (condition, body); `for` keeps its body in here before `else`.
    done: Vec<(Option<Expr>, Vec<Stmt>)>,
    /// Condition of the branch now open (`if`/`elif`); `None` after `else`.
    cond: Option<Expr>,
    in_else: bool,
}

const BLOCKS: &[&str] = &[
    "if",
    "for",
    "macro",
    "call",
    "filter",
    "with",
    "block",
    "autoescape",
    "generation",
    "trans",
];

struct Builder {
    stack: Vec<Frame>,
    out: Template,
}

impl Builder {
    fn push(&mut self, stmt: Stmt) {
        if let Some(f) = self.stack.last_mut() {
            f.stmts.push(stmt);
        }
    }

    fn error(&mut self, offset: u32, message: impl Into<String>) {
        self.out.errors.push(ParseError {
            offset: offset as usize,
            message: message.into(),
        });
    }

    fn broken(&mut self, span: Span, tokens: Vec<Token>, err: &ParseError) {
        self.out.errors.push(err.clone());
        if err.message.contains("too deep") {
            self.out.bounded = true;
        }
        self.push(Stmt {
            kind: StmtKind::Broken { tokens },
            span,
        });
    }

    fn tag(&mut self, kind: TagKind, span: Span, tokens: Vec<Token>, error: Option<String>) {
        if let Some(e) = error {
            let err = ParseError {
                offset: span.start as usize,
                message: e,
            };
            self.broken(span, tokens, &err);
            return;
        }
        if kind == TagKind::Var {
            let mut p = P::new(&tokens, span);
            match p.expr_tuple(true).and_then(|e| p.end().map(|()| e)) {
                Ok(e) => self.push(Stmt {
                    kind: StmtKind::Output(e),
                    span,
                }),
                Err(err) => self.broken(span, tokens, &err),
            }
            return;
        }
        let name = match tokens.first() {
            Some(Token {
                tok: Tok::Name(n), ..
            }) => n.clone(),
            _ => {
                let err = ParseError {
                    offset: span.start as usize,
                    message: "tag name expected".into(),
                };
                self.broken(span, tokens, &err);
                return;
            }
        };
        let result = self.statement(&name, span, &tokens);
        if let Err(err) = result {
            self.broken(span, tokens, &err);
        }
    }

    fn statement(&mut self, name: &str, span: Span, tokens: &[Token]) -> PResult<()> {
        let mut p = P::new(tokens, span);
        p.pos = 1;
        match name {
            "elif" | "else" => {
                let cond = if name == "elif" {
                    let e = p.expr(true)?;
                    p.end()?;
                    Some(e)
                } else {
                    p.end()?;
                    None
                };
                self.branch(name, cond, span);
                return Ok(());
            }
            "endraw" => return Ok(()),
            _ => {}
        }
        if let Some(opened) = name.strip_prefix("end") {
            self.end(opened, span);
            return Ok(());
        }
        let leaf = match name {
            "set" => {
                let target = p.target()?;
                if p.eat_op("=") {
                    let value = p.expr_tuple(true)?;
                    p.end()?;
                    Some(StmtKind::Set { target, value })
                } else {
                    let filter = p.filter_chain()?;
                    p.end()?;
                    self.open(
                        "set",
                        span,
                        StmtKind::SetBlock {
                            target,
                            filter,
                            body: Vec::new(),
                        },
                    );
                    None
                }
            }
            "include" | "extends" | "import" | "from" => {
                let template = p.expr(true)?;
                let mut exprs = Vec::new();
                // `as name`, `import a as b, c`, `ignore missing`, `with context`: names only.
                while !p.at_end() {
                    if let Some(Tok::Name(_)) = p.peek() {
                        p.pos += 1;
                    } else if p.eat_op(",") {
                    } else {
                        exprs.push(p.expr(true)?);
                    }
                }
                let _ = exprs;
                Some(StmtKind::Load {
                    tag: name.to_owned(),
                    template,
                })
            }
            "do" => {
                let e = p.expr_tuple(true)?;
                p.end()?;
                Some(StmtKind::Other {
                    tag: name.to_owned(),
                    exprs: vec![e],
                })
            }
            "break" | "continue" => {
                p.end()?;
                Some(StmtKind::Other {
                    tag: name.to_owned(),
                    exprs: Vec::new(),
                })
            }
            "if" => {
                let cond = p.expr(true)?;
                p.end()?;
                self.open(
                    "if",
                    span,
                    StmtKind::If {
                        branches: Vec::new(),
                    },
                );
                if let Some(h) = self.stack.last_mut().and_then(|f| f.header.as_mut()) {
                    h.cond = Some(cond);
                }
                None
            }
            "for" => {
                let target = p.target()?;
                p.keyword("in")?;
                let iter = p.expr_tuple(false)?;
                let filter = if p.eat_name("if") {
                    Some(p.expr(true)?)
                } else {
                    None
                };
                p.eat_name("recursive");
                p.end()?;
                self.open(
                    "for",
                    span,
                    StmtKind::For {
                        target,
                        iter,
                        filter,
                        body: Vec::new(),
                        else_body: Vec::new(),
                    },
                );
                None
            }
            "macro" => {
                let name = p.name()?;
                let params = p.params()?;
                p.end()?;
                self.open(
                    "macro",
                    span,
                    StmtKind::Macro {
                        name,
                        params,
                        body: Vec::new(),
                    },
                );
                None
            }
            "call" => {
                let params = if p.peek() == Some(&Tok::Op("(")) {
                    p.params()?
                } else {
                    Vec::new()
                };
                let call = p.expr(true)?;
                p.end()?;
                self.open(
                    "call",
                    span,
                    StmtKind::CallBlock {
                        params,
                        call,
                        body: Vec::new(),
                    },
                );
                None
            }
            "filter" => {
                let filter = p.filter_chain()?.unwrap_or(Expr::new(ExprKind::Hole, span));
                p.end()?;
                self.open(
                    "filter",
                    span,
                    StmtKind::FilterBlock {
                        filter,
                        body: Vec::new(),
                    },
                );
                None
            }
            "with" => {
                let mut bindings = Vec::new();
                while !p.at_end() {
                    if !bindings.is_empty() {
                        p.op(",")?;
                    }
                    let t = p.target()?;
                    p.op("=")?;
                    bindings.push((t, p.expr(true)?));
                }
                self.open(
                    "with",
                    span,
                    StmtKind::With {
                        bindings,
                        body: Vec::new(),
                    },
                );
                None
            }
            _ => {
                // `block`, `autoescape`, `generation`, extension tags: keep what parses as expressions.
                let mut args = Vec::new();
                while !p.at_end() {
                    if p.eat_op(",") {
                        continue;
                    }
                    args.push(p.expr(true)?);
                }
                if BLOCKS.contains(&name) {
                    self.open(
                        name,
                        span,
                        StmtKind::Block {
                            name: name.to_owned(),
                            args,
                            body: Vec::new(),
                        },
                    );
                    None
                } else {
                    Some(StmtKind::Other {
                        tag: name.to_owned(),
                        exprs: args,
                    })
                }
            }
        };
        if let Some(kind) = leaf {
            self.push(Stmt { kind, span });
        }
        Ok(())
    }

    fn open(&mut self, name: &str, span: Span, kind: StmtKind) {
        if self.stack.len() > MAX_NESTING {
            self.out.bounded = true;
            self.error(span.start, "blocks nested too deep");
            // Keep parsing flat: the body goes to the enclosing block.
            return;
        }
        self.stack.push(Frame {
            header: Some(Header {
                name: name.to_owned(),
                span,
                kind,
                done: Vec::new(),
                cond: None,
                in_else: false,
            }),
            stmts: Vec::new(),
        });
    }

    fn branch(&mut self, tag: &str, cond: Option<Expr>, span: Span) {
        let Some(frame) = self.stack.last_mut() else {
            return;
        };
        let ok = match &mut frame.header {
            Some(h) if h.name == "if" && !h.in_else => {
                let body = std::mem::take(&mut frame.stmts);
                let prev = h.cond.take();
                h.done.push((prev, body));
                h.in_else = cond.is_none();
                h.cond = cond;
                true
            }
            Some(h) if h.name == "for" && tag == "else" && !h.in_else => {
                let body = std::mem::take(&mut frame.stmts);
                h.done.push((None, body));
                h.in_else = true;
                true
            }
            _ => false,
        };
        if !ok {
            self.error(span.start, format!("unexpected `{tag}`"));
        }
    }

    fn end(&mut self, opened: &str, span: Span) {
        let found = self
            .stack
            .iter()
            .rposition(|f| f.header.as_ref().is_some_and(|h| h.name == opened));
        match found {
            Some(i) => {
                while self.stack.len() > i + 1 {
                    let at = self
                        .stack
                        .last()
                        .and_then(|f| f.header.as_ref())
                        .map_or(0, |h| h.span.start);
                    self.error(at, "block never closed");
                    self.close();
                }
                self.close();
            }
            None if BLOCKS.contains(&opened) || opened == "set" => {
                self.error(span.start, format!("`end{opened}` without an open block"));
            }
            // An unknown extension's end tag: nothing to close.
            None => {}
        }
    }

    /// Pops the innermost block and appends it, finished, to its parent.
    fn close(&mut self) {
        if self.stack.len() < 2 {
            return;
        }
        let Some(frame) = self.stack.pop() else {
            return;
        };
        let Some(mut h) = frame.header else {
            return;
        };
        let stmts = frame.stmts;
        match &mut h.kind {
            StmtKind::If { branches } => {
                let mut done = std::mem::take(&mut h.done);
                done.push((h.cond.take(), stmts));
                *branches = done;
            }
            StmtKind::For {
                body, else_body, ..
            } => {
                if let Some((_, b)) = h.done.pop() {
                    *body = b;
                    *else_body = stmts;
                } else {
                    *body = stmts;
                }
            }
            StmtKind::SetBlock { body, .. }
            | StmtKind::Macro { body, .. }
            | StmtKind::CallBlock { body, .. }
            | StmtKind::FilterBlock { body, .. }
            | StmtKind::With { body, .. }
            | StmtKind::Block { body, .. } => *body = stmts,
            _ => {}
        }
        self.push(Stmt {
            kind: h.kind,
            span: h.span,
        });
    }
}

/// The expression parser over one tag's tokens.
struct P<'t> {
    toks: &'t [Token],
    pos: usize,
    tag: Span,
    nest: usize,
}

const KEYWORDS_STOP: &[&str] = &["else", "or", "and", "if", "in", "is", "not", "recursive"];

impl<'t> P<'t> {
    fn new(toks: &'t [Token], tag: Span) -> Self {
        Self {
            toks,
            pos: 0,
            tag,
            nest: 0,
        }
    }

    fn peek(&self) -> Option<&'t Tok> {
        self.toks.get(self.pos).map(|t| &t.tok)
    }

    fn peek_at(&self, n: usize) -> Option<&'t Tok> {
        self.toks.get(self.pos + n).map(|t| &t.tok)
    }

    fn at_end(&self) -> bool {
        self.pos >= self.toks.len()
    }

    fn here(&self) -> Span {
        self.toks.get(self.pos).map_or(
            Span::new(self.tag.end as usize, self.tag.end as usize),
            |t| t.span,
        )
    }

    fn prev_end(&self) -> Span {
        self.pos
            .checked_sub(1)
            .and_then(|i| self.toks.get(i))
            .map_or(self.tag, |t| t.span)
    }

    fn err<T>(&self, msg: &str) -> PResult<T> {
        Err(ParseError {
            offset: self.here().start as usize,
            message: msg.to_owned(),
        })
    }

    fn end(&self) -> PResult<()> {
        if self.at_end() {
            Ok(())
        } else {
            self.err("unexpected token")
        }
    }

    fn eat_op(&mut self, op: &str) -> bool {
        if matches!(self.peek(), Some(Tok::Op(o)) if *o == op) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn op(&mut self, op: &str) -> PResult<()> {
        if self.eat_op(op) {
            Ok(())
        } else {
            self.err("unexpected token")
        }
    }

    fn eat_name(&mut self, n: &str) -> bool {
        if matches!(self.peek(), Some(Tok::Name(x)) if x == n) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn keyword(&mut self, n: &str) -> PResult<()> {
        if self.eat_name(n) {
            Ok(())
        } else {
            self.err("keyword expected")
        }
    }

    fn name(&mut self) -> PResult<String> {
        match self.peek() {
            Some(Tok::Name(n)) => {
                self.pos += 1;
                Ok(n.clone())
            }
            _ => self.err("name expected"),
        }
    }

    fn mk(&self, kind: ExprKind, span: Span) -> PResult<Expr> {
        let e = Expr::new(kind, span);
        if e.depth > MAX_EXPR_DEPTH {
            return self.err("expression nested too deep");
        }
        Ok(e)
    }

    fn enter(&mut self) -> PResult<()> {
        self.nest += 1;
        if self.nest > MAX_EXPR_DEPTH {
            return self.err("expression nested too deep");
        }
        Ok(())
    }

    /// Assignment targets: `a`, `a, b`, `(a, b)`, `ns.attr`.
    fn target(&mut self) -> PResult<Target> {
        let first = self.target_one()?;
        if !matches!(self.peek(), Some(Tok::Op(","))) {
            return Ok(first);
        }
        let mut v = vec![first];
        while self.eat_op(",") {
            if matches!(self.peek(), Some(Tok::Name(_) | Tok::Op("("))) {
                v.push(self.target_one()?);
            } else {
                break;
            }
        }
        Ok(Target::Tuple(v))
    }

    fn target_one(&mut self) -> PResult<Target> {
        self.enter()?;
        let t = if self.eat_op("(") {
            let t = self.target()?;
            self.op(")")?;
            t
        } else {
            let n = self.name()?;
            if self.eat_op(".") {
                Target::Ns(n, self.name()?)
            } else {
                Target::Name(n)
            }
        };
        self.nest -= 1;
        Ok(t)
    }

    /// `(a, b=default)` of a macro or call block.
    fn params(&mut self) -> PResult<Vec<(String, Option<Expr>)>> {
        self.op("(")?;
        let mut v = Vec::new();
        while !self.eat_op(")") {
            if !v.is_empty() {
                self.op(",")?;
                if self.eat_op(")") {
                    break;
                }
            }
            let n = self.name()?;
            let d = if self.eat_op("=") {
                Some(self.expr(true)?)
            } else {
                None
            };
            v.push((n, d));
        }
        Ok(v)
    }

    /// `| f(x) | g` after `set x` or `filter`, applied to a hole.
    fn filter_chain(&mut self) -> PResult<Option<Expr>> {
        if self.at_end() {
            return Ok(None);
        }
        let hole = Expr::new(ExprKind::Hole, self.here());
        let mut e = hole;
        if !matches!(self.peek(), Some(Tok::Op("|"))) {
            // `{% filter upper %}`: the first filter has no bar.
            e = self.filter(e)?;
        }
        Ok(Some(self.postfix_filters(e)?))
    }

    /// A comma list becomes a tuple (`{{ a, b }}`, `for x in a, b`).
    fn expr_tuple(&mut self, with_cond: bool) -> PResult<Expr> {
        let start = self.here();
        let first = self.expr(with_cond)?;
        if !matches!(self.peek(), Some(Tok::Op(","))) {
            return Ok(first);
        }
        let mut v = vec![first];
        while self.eat_op(",") {
            if self.at_end() || self.peek_is_stop() {
                break;
            }
            v.push(self.expr(with_cond)?);
        }
        self.mk(ExprKind::Tuple(v), start.join(self.prev_end()))
    }

    fn peek_is_stop(&self) -> bool {
        matches!(self.peek(), Some(Tok::Op(")" | "]" | "}")))
            || matches!(self.peek(), Some(Tok::Name(n)) if n == "if" || n == "recursive")
    }

    pub(crate) fn expr(&mut self, with_cond: bool) -> PResult<Expr> {
        self.enter()?;
        let start = self.here();
        let mut e = self.or()?;
        if with_cond {
            while self.eat_name("if") {
                let cond = self.or()?;
                let other = if self.eat_name("else") {
                    Some(Box::new(self.expr(true)?))
                } else {
                    None
                };
                e = self.mk(
                    ExprKind::Cond(Box::new(cond), Box::new(e), other),
                    start.join(self.prev_end()),
                )?;
            }
        }
        self.nest -= 1;
        Ok(e)
    }

    fn or(&mut self) -> PResult<Expr> {
        let start = self.here();
        let mut e = self.and()?;
        while self.eat_name("or") {
            let r = self.and()?;
            e = self.mk(
                ExprKind::Binary("or", Box::new(e), Box::new(r)),
                start.join(self.prev_end()),
            )?;
        }
        Ok(e)
    }

    fn and(&mut self) -> PResult<Expr> {
        let start = self.here();
        let mut e = self.not()?;
        while self.eat_name("and") {
            let r = self.not()?;
            e = self.mk(
                ExprKind::Binary("and", Box::new(e), Box::new(r)),
                start.join(self.prev_end()),
            )?;
        }
        Ok(e)
    }

    fn not(&mut self) -> PResult<Expr> {
        let start = self.here();
        if self.eat_name("not") {
            self.enter()?;
            let e = self.not()?;
            self.nest -= 1;
            return self.mk(
                ExprKind::Unary("not", Box::new(e)),
                start.join(self.prev_end()),
            );
        }
        self.compare()
    }

    fn compare(&mut self) -> PResult<Expr> {
        let start = self.here();
        let mut e = self.math1()?;
        loop {
            let op: &'static str = match self.peek() {
                Some(Tok::Op(o @ ("==" | "!=" | ">" | ">=" | "<" | "<="))) => {
                    self.pos += 1;
                    o
                }
                Some(Tok::Name(n)) if n == "in" => {
                    self.pos += 1;
                    "in"
                }
                Some(Tok::Name(n))
                    if n == "not" && matches!(self.peek_at(1), Some(Tok::Name(m)) if m == "in") =>
                {
                    self.pos += 2;
                    "not in"
                }
                _ => break,
            };
            let r = self.math1()?;
            e = self.mk(
                ExprKind::Binary(op, Box::new(e), Box::new(r)),
                start.join(self.prev_end()),
            )?;
        }
        Ok(e)
    }

    fn math1(&mut self) -> PResult<Expr> {
        let start = self.here();
        let mut e = self.concat()?;
        while let Some(Tok::Op(o @ ("+" | "-"))) = self.peek() {
            self.pos += 1;
            let r = self.concat()?;
            e = self.mk(
                ExprKind::Binary(o, Box::new(e), Box::new(r)),
                start.join(self.prev_end()),
            )?;
        }
        Ok(e)
    }

    fn concat(&mut self) -> PResult<Expr> {
        let start = self.here();
        let mut e = self.math2()?;
        while self.eat_op("~") {
            let r = self.math2()?;
            e = self.mk(
                ExprKind::Binary("~", Box::new(e), Box::new(r)),
                start.join(self.prev_end()),
            )?;
        }
        Ok(e)
    }

    fn math2(&mut self) -> PResult<Expr> {
        let start = self.here();
        let mut e = self.pow()?;
        while let Some(Tok::Op(o @ ("*" | "/" | "//" | "%"))) = self.peek() {
            self.pos += 1;
            let r = self.pow()?;
            e = self.mk(
                ExprKind::Binary(o, Box::new(e), Box::new(r)),
                start.join(self.prev_end()),
            )?;
        }
        Ok(e)
    }

    fn pow(&mut self) -> PResult<Expr> {
        let start = self.here();
        let mut e = self.unary(true)?;
        while self.eat_op("**") {
            let r = self.unary(true)?;
            e = self.mk(
                ExprKind::Binary("**", Box::new(e), Box::new(r)),
                start.join(self.prev_end()),
            )?;
        }
        Ok(e)
    }

    fn unary(&mut self, with_filter: bool) -> PResult<Expr> {
        let start = self.here();
        let e = match self.peek() {
            Some(Tok::Op(o @ ("-" | "+"))) => {
                self.pos += 1;
                self.enter()?;
                let inner = self.unary(false)?;
                self.nest -= 1;
                self.mk(
                    ExprKind::Unary(o, Box::new(inner)),
                    start.join(self.prev_end()),
                )?
            }
            _ => {
                let p = self.primary()?;
                self.postfix(p)?
            }
        };
        if with_filter {
            self.postfix_filters(e)
        } else {
            Ok(e)
        }
    }

    fn primary(&mut self) -> PResult<Expr> {
        let Some(t) = self.toks.get(self.pos) else {
            return self.err("expression expected");
        };
        let span = t.span;
        match &t.tok {
            Tok::Name(n) => {
                self.pos += 1;
                let kind = match n.as_str() {
                    "true" | "false" | "none" | "True" | "False" | "None" => ExprKind::Other,
                    _ => ExprKind::Name(n.clone()),
                };
                self.mk(kind, span)
            }
            Tok::Str { value, .. } => {
                self.pos += 1;
                let mut s = value.clone();
                let mut end = span;
                // Adjacent literals concatenate.
                while let Some(Token {
                    tok: Tok::Str { value, .. },
                    span,
                }) = self.toks.get(self.pos)
                {
                    s.push_str(value);
                    end = *span;
                    self.pos += 1;
                }
                self.mk(ExprKind::Str(s), span.join(end))
            }
            Tok::Int(v) => {
                self.pos += 1;
                self.mk(ExprKind::Int(*v), span)
            }
            Tok::Float => {
                self.pos += 1;
                self.mk(ExprKind::Other, span)
            }
            Tok::Op("(") => {
                self.pos += 1;
                self.enter()?;
                let e = if self.eat_op(")") {
                    self.mk(ExprKind::Tuple(Vec::new()), span.join(self.prev_end()))?
                } else {
                    let first = self.expr(true)?;
                    if self.eat_op(",") {
                        let mut v = vec![first];
                        while !self.eat_op(")") {
                            v.push(self.expr(true)?);
                            if !self.eat_op(",") {
                                self.op(")")?;
                                break;
                            }
                        }
                        self.mk(ExprKind::Tuple(v), span.join(self.prev_end()))?
                    } else {
                        self.op(")")?;
                        first
                    }
                };
                self.nest -= 1;
                Ok(e)
            }
            Tok::Op("[") => {
                self.pos += 1;
                self.enter()?;
                let mut v = Vec::new();
                while !self.eat_op("]") {
                    v.push(self.expr(true)?);
                    if !self.eat_op(",") {
                        self.op("]")?;
                        break;
                    }
                }
                self.nest -= 1;
                self.mk(ExprKind::List(v), span.join(self.prev_end()))
            }
            Tok::Op("{") => {
                self.pos += 1;
                self.enter()?;
                let mut v = Vec::new();
                while !self.eat_op("}") {
                    let k = self.expr(true)?;
                    self.op(":")?;
                    let val = self.expr(true)?;
                    v.push((k, val));
                    if !self.eat_op(",") {
                        self.op("}")?;
                        break;
                    }
                }
                self.nest -= 1;
                self.mk(ExprKind::Dict(v), span.join(self.prev_end()))
            }
            Tok::Op(_) => self.err("expression expected"),
        }
    }

    fn postfix(&mut self, mut e: Expr) -> PResult<Expr> {
        let start = e.span;
        loop {
            if self.eat_op(".") {
                let attr = match self.peek() {
                    Some(Tok::Name(n)) => n.clone(),
                    Some(Tok::Int(Some(i))) => i.to_string(),
                    _ => return self.err("attribute name expected"),
                };
                self.pos += 1;
                e = self.mk(
                    ExprKind::Attr(Box::new(e), attr),
                    start.join(self.prev_end()),
                )?;
            } else if self.eat_op("[") {
                self.enter()?;
                let mut subs = Vec::new();
                while !self.eat_op("]") {
                    subs.push(self.subscript()?);
                    if !self.eat_op(",") {
                        self.op("]")?;
                        break;
                    }
                }
                self.nest -= 1;
                let idx = if subs.len() == 1 {
                    subs.pop()
                        .unwrap_or_else(|| Expr::new(ExprKind::Other, start))
                } else {
                    self.mk(ExprKind::Tuple(subs), start)?
                };
                e = self.mk(
                    ExprKind::Item(Box::new(e), Box::new(idx)),
                    start.join(self.prev_end()),
                )?;
            } else if matches!(self.peek(), Some(Tok::Op("("))) {
                let (args, kwargs) = self.call_args()?;
                e = self.mk(
                    ExprKind::Call {
                        func: Box::new(e),
                        args,
                        kwargs,
                    },
                    start.join(self.prev_end()),
                )?;
            } else {
                return Ok(e);
            }
        }
    }

    fn subscript(&mut self) -> PResult<Expr> {
        let start = self.here();
        let lo = if matches!(self.peek(), Some(Tok::Op(":"))) {
            None
        } else {
            let e = self.expr(true)?;
            if !matches!(self.peek(), Some(Tok::Op(":"))) {
                return Ok(e);
            }
            Some(Box::new(e))
        };
        self.op(":")?;
        let part = |p: &mut Self| -> PResult<Option<Box<Expr>>> {
            if matches!(p.peek(), Some(Tok::Op("]" | "," | ":"))) {
                Ok(None)
            } else {
                Ok(Some(Box::new(p.expr(true)?)))
            }
        };
        let hi = part(self)?;
        let step = if self.eat_op(":") { part(self)? } else { None };
        self.mk(ExprKind::Slice(lo, hi, step), start.join(self.prev_end()))
    }

    fn call_args(&mut self) -> PResult<(Vec<Expr>, Vec<Kwarg>)> {
        self.op("(")?;
        self.enter()?;
        let mut args = Vec::new();
        let mut kwargs = Vec::new();
        while !self.eat_op(")") {
            if !args.is_empty() || !kwargs.is_empty() {
                self.op(",")?;
                if self.eat_op(")") {
                    break;
                }
            }
            if self.eat_op("**") || self.eat_op("*") {
                let e = self.expr(true)?;
                kwargs.push(("*".to_owned(), e));
                continue;
            }
            if let (Some(Tok::Name(n)), Some(Tok::Op("="))) = (self.peek(), self.peek_at(1)) {
                self.pos += 2;
                let e = self.expr(true)?;
                kwargs.push((n.clone(), e));
                continue;
            }
            args.push(self.expr(true)?);
        }
        self.nest -= 1;
        Ok((args, kwargs))
    }

    fn postfix_filters(&mut self, mut e: Expr) -> PResult<Expr> {
        loop {
            if self.eat_op("|") {
                e = self.filter(e)?;
                e = self.postfix(e)?;
            } else if self.eat_name("is") {
                let start = e.span;
                let negated = self.eat_name("not");
                let mut name = self.name()?;
                while self.eat_op(".") {
                    name.push('.');
                    name.push_str(&self.name()?);
                }
                let args = if matches!(self.peek(), Some(Tok::Op("("))) {
                    let (mut a, kw) = self.call_args()?;
                    a.extend(kw.into_iter().map(|(_, e)| e));
                    a
                } else if matches!(self.peek(), Some(Tok::Name(n)) if !KEYWORDS_STOP.contains(&n.as_str()))
                    || matches!(
                        self.peek(),
                        Some(
                            Tok::Str { .. }
                                | Tok::Int(_)
                                | Tok::Float
                                | Tok::Op("[" | "{" | "-" | "+")
                        )
                    )
                {
                    let p = self.primary()?;
                    vec![self.postfix(p)?]
                } else {
                    Vec::new()
                };
                let t = self.mk(
                    ExprKind::Test {
                        expr: Box::new(e),
                        name,
                        args,
                    },
                    start.join(self.prev_end()),
                )?;
                e = if negated {
                    self.mk(
                        ExprKind::Unary("not", Box::new(t)),
                        start.join(self.prev_end()),
                    )?
                } else {
                    t
                };
            } else {
                return Ok(e);
            }
        }
    }

    fn filter(&mut self, e: Expr) -> PResult<Expr> {
        let start = e.span;
        let mut name = self.name()?;
        while self.eat_op(".") {
            name.push('.');
            name.push_str(&self.name()?);
        }
        let (args, kwargs) = if matches!(self.peek(), Some(Tok::Op("("))) {
            self.call_args()?
        } else {
            (Vec::new(), Vec::new())
        };
        self.mk(
            ExprKind::Filter {
                expr: Box::new(e),
                name,
                args,
                kwargs,
            },
            start.join(self.prev_end()),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::super::lexer::lex;
    use super::*;

    fn tpl(src: &str) -> Template {
        parse(lex(src))
    }

    fn one(src: &str) -> Expr {
        let t = tpl(&format!("{{{{ {src} }}}}"));
        assert!(t.errors.is_empty(), "{src}: {:?}", t.errors);
        match &t.body[0].kind {
            StmtKind::Output(e) => e.clone(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn precedence_and_filters() {
        let e = one("a ~ b|upper + c");
        let ExprKind::Binary("+", l, _) = &e.kind else {
            panic!("{e:?}")
        };
        let ExprKind::Binary("~", _, r) = &l.kind else {
            panic!("{l:?}")
        };
        assert!(matches!(&r.kind, ExprKind::Filter { name, .. } if name == "upper"));
        let e = one("x if y is not none and z in w else q");
        assert!(matches!(e.kind, ExprKind::Cond(..)));
        let e = one("not a is defined");
        assert!(matches!(e.kind, ExprKind::Unary("not", _)));
    }

    #[test]
    fn postfix_chains_and_slices() {
        let e = one("a.b['c'](1, k=2)[::-1]|attr('d')(x)");
        let ExprKind::Call { func, args, .. } = &e.kind else {
            panic!("{e:?}")
        };
        assert_eq!(args.len(), 1);
        assert!(matches!(&func.kind, ExprKind::Filter { name, .. } if name == "attr"));
        let e = one("s[1:]");
        assert!(
            matches!(&e.kind, ExprKind::Item(_, i) if matches!(i.kind, ExprKind::Slice(Some(_), None, None)))
        );
    }

    #[test]
    fn literals() {
        assert!(matches!(one("'a' 'b'").kind, ExprKind::Str(ref s) if s == "ab"));
        assert!(
            matches!(one("{'a': [1, (2,)], 'b': {}}").kind, ExprKind::Dict(ref v) if v.len() == 2)
        );
        assert!(matches!(one("()").kind, ExprKind::Tuple(ref v) if v.is_empty()));
        assert!(matches!(one("a, b").kind, ExprKind::Tuple(ref v) if v.len() == 2));
        assert!(
            matches!(one("f(*a, **k)").kind, ExprKind::Call { ref kwargs, .. } if kwargs.len() == 2)
        );
    }

    #[test]
    fn tests_with_bare_arguments() {
        let e = one("loop.index is divisibleby 3");
        assert!(
            matches!(&e.kind, ExprKind::Test { name, args, .. } if name == "divisibleby" && args.len() == 1)
        );
        let e = one("x is string and y");
        assert!(matches!(e.kind, ExprKind::Binary("and", ..)));
    }

    #[test]
    fn block_structure() {
        let t = tpl(
            "{% for m in ms if m.x %}{% if a %}1{% elif b %}2{% else %}3{% endif %}{% else %}e{% endfor %}\
             {% set ns = namespace(a=1) %}{% set ns.a = 2 %}{% set x | upper %}t{% endset %}\
             {% macro f(a, b='x') %}{{ a }}{% endmacro %}{% call(u) f(1) %}c{% endcall %}\
             {% filter upper %}z{% endfilter %}{% with a = 1, b = 2 %}{% endwith %}\
             {% generation %}g{% endgeneration %}{% raw %}{{{% endraw %}",
        );
        assert!(t.errors.is_empty(), "{:?}", t.errors);
        let kinds: Vec<&str> = t
            .body
            .iter()
            .map(|s| match &s.kind {
                StmtKind::For {
                    body, else_body, ..
                } => {
                    assert_eq!(else_body.len(), 1);
                    assert!(
                        matches!(&body[0].kind, StmtKind::If { branches } if branches.len() == 3)
                    );
                    "for"
                }
                StmtKind::Set { .. } => "set",
                StmtKind::SetBlock { .. } => "setblock",
                StmtKind::Macro { .. } => "macro",
                StmtKind::CallBlock { .. } => "call",
                StmtKind::FilterBlock { .. } => "filter",
                StmtKind::With { bindings, .. } => {
                    assert_eq!(bindings.len(), 2);
                    "with"
                }
                StmtKind::Block { .. } => "block",
                StmtKind::Text(_) => "text",
                _ => "other",
            })
            .collect();
        assert_eq!(
            kinds,
            [
                "for", "set", "set", "setblock", "macro", "call", "filter", "with", "block", "text"
            ]
        );
    }

    #[test]
    fn errors_are_local() {
        let t = tpl("{{ a. }}{{ b.__class__ }}{% if %}{% endif %}{% endfor %}{% if x %}");
        assert!(t.errors.len() >= 3);
        assert!(matches!(t.body[0].kind, StmtKind::Broken { .. }));
        assert!(matches!(t.body[1].kind, StmtKind::Output(_)));
    }

    #[test]
    fn depth_is_bounded() {
        let deep = format!("{{{{ {}1{} }}}}", "(".repeat(5000), ")".repeat(5000));
        let t = tpl(&deep);
        assert!(t.bounded);
        let chain = format!("{{{{ a{} }}}}", ".b".repeat(5000));
        assert!(tpl(&chain).bounded);
        let ops = format!("{{{{ 1{} }}}}", " ~ 1".repeat(5000));
        assert!(tpl(&ops).bounded);
        let nots = format!("{{{{ {} x }}}}", "not ".repeat(5000));
        assert!(tpl(&nots).bounded);
        let blocks = "{% if a %}".repeat(1000);
        assert!(tpl(&blocks).bounded);
    }
}
