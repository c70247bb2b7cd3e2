//! Pickle analysis: a symbolic machine that runs the opcode stream on symbols, never on objects.

mod names;
mod value;
mod vm;

pub(crate) use value::CallKind;
pub(crate) use vm::{Call, Machine, NestedData, Root, RootItem, Stream, StreamError};

/// Whether `data` plausibly is a pickle when nothing else says so: it runs to a `STOP`, or before it
/// breaks it imports something spelled like a Python name and calls something, or imports a name on
/// the deny list (a payload in front of a corrupt tail). Text that merely starts with an opcode
/// character (a README opening with `(c)`, a vocabulary whose first two lines `cat`, `dog` read as
/// `GLOBAL cat.dog`) does neither.
pub(crate) fn looks_like_pickle(data: &[u8], promised: bool) -> bool {
    let Some(first) = data.first() else {
        return false;
    };
    if !is_opcode(*first) {
        return false;
    }
    let limits = crate::Limits {
        max_opcodes: 1_000_000,
        max_nodes: 1_000_000,
        ..crate::Limits::default()
    };
    let s = Machine::run(data, 0, &limits);
    // A file whose name promises a pickle is taken as one once a few opcodes ran: that is what a
    // loader executes before any error. Anything else must parse to a STOP or import a Python name.
    (s.broken.is_none() && s.opcodes >= 2)
        || s.imports.iter().any(|i| {
            is_python_path(&i.path)
                && (!s.calls.is_empty()
                    || matches!(
                        crate::policy::classify(&i.path),
                        crate::policy::Class::Dangerous { .. }
                            | crate::policy::Class::Introspection { .. }
                    ))
        })
        || (promised && s.opcodes >= 4)
}

fn is_python_path(path: &str) -> bool {
    !path.is_empty()
        && path.split('.').all(|part| {
            let mut chars = part.chars();
            chars
                .next()
                .is_some_and(|c| c == '_' || c.is_ascii_alphabetic())
                && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
        })
}

/// Whether `b` is an opcode of some protocol.
pub(crate) fn is_opcode(b: u8) -> bool {
    matches!(b, 0x80..=0x98) || b"().012BCFGIJKLMNPQRSTUVXabcdeghijlopqrstu}]".contains(&b)
}

#[cfg(test)]
mod sniff_tests {
    use super::looks_like_pickle;

    #[test]
    fn word_lists_are_not_pickles() {
        // `GLOBAL cat.dog`, then text: no call, nothing dangerous imported.
        assert!(!looks_like_pickle(b"cat\ndog\nbird\nfish\n", false));
        assert!(!looks_like_pickle(b"car\nbus\n(truck\n", false));
        // Payloads in front of a corrupt tail still count.
        assert!(looks_like_pickle(b"cos\nsystem\n(S'x'\ntR\xff\xff", false));
        assert!(looks_like_pickle(b"cos\nsystem\n\xff", false));
        assert!(looks_like_pickle(b"cevil\nrun\n(tR\xff", false));
        assert!(looks_like_pickle(b"cos\nsystem\n(S'x'\ntR.", false));
    }
}
