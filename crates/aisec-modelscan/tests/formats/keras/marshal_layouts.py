"""Hand-assembled marshal code objects in the layouts of Python versions other than the one running.

Attackers marshal Lambda code with whatever Python they use (3.8-3.12 seen in the wild), so the
fixtures carry code objects in every layout: Python 2.x (4 header ints, 't' interned strings and
'R' string references), 3.0-3.7 (5 ints), 3.8-3.10 (6 ints, posonlyargcount) and 3.11+ (5 ints,
localsplusnames/kinds, qualname, exception table). The bytecode bytes are filler: the scanner reads
names and constants, it never runs or disassembles the code, and neither does anything else here.
"""

import struct

FLAG_REF = 0x80


def i32(v):
    return struct.pack("<i", v)


def w_bytes(b):
    return b"s" + i32(len(b)) + b


def w_str(s):
    b = s.encode()
    return (b"z" + bytes([len(b)]) + b) if len(b) < 256 else (b"u" + i32(len(b)) + b)


def w_py2str(s, interned=True):
    b = s.encode()
    return (b"t" if interned else b"s") + i32(len(b)) + b


def w_tuple(items, small=True):
    if small and len(items) < 256:
        return b")" + bytes([len(items)]) + b"".join(items)
    return b"(" + i32(len(items)) + b"".join(items)


def const(v, py2=False):
    if v is None:
        return b"N"
    if isinstance(v, bool):
        return b"T" if v else b"F"
    if isinstance(v, int):
        return b"i" + i32(v)
    if isinstance(v, str):
        return w_py2str(v, interned=False) if py2 else w_str(v)
    if isinstance(v, bytes):
        return v  # already marshalled (a nested code object)
    raise TypeError(v)


FILLER = bytes([0x74, 0x00, 0x00, 0x64, 0x01, 0x00, 0x83, 0x01, 0x00, 0x53])


def code(layout, names, consts=(), name="<lambda>", varnames=("x",), use_refs=True):
    """A code object whose co_names are `names` and co_consts `consts`, in `layout`:
    'py2', 'py30' (3.0-3.7), 'py38' (3.8-3.10) or 'py311' (3.11-3.13)."""
    if layout == "py2":
        # Python 2: no FLAG_REF; repeated interned strings become 'R' references.
        interned = []

        def s2(x):
            if x in interned:
                return b"R" + i32(interned.index(x))
            interned.append(x)
            return w_py2str(x)

        out = b"c" + i32(len(varnames)) + i32(len(varnames)) + i32(3) + i32(0x43)
        out += w_bytes(FILLER)
        out += w_tuple([const(c, py2=True) for c in (None, *consts)], small=False)
        out += w_tuple([s2(n) for n in names], small=False)
        out += w_tuple([s2(v) for v in varnames], small=False)
        out += w_tuple([], small=False) + w_tuple([], small=False)
        out += s2("<stdin>") + s2(name) + i32(1) + w_py2str("\x00\x01", interned=False)
        return out
    # Python 3: the code object takes ref 0 when flagged; the empty tuple is stored once and
    # referred to afterwards with 'r', as CPython does.
    refs = []
    out = bytes([ord("c") | FLAG_REF]) if use_refs else b"c"
    if use_refs:
        refs.append("code")
    if layout == "py30":
        out += i32(len(varnames)) + i32(0) + i32(len(varnames)) + i32(3) + i32(0x43)
    elif layout == "py38":
        out += i32(len(varnames)) + i32(0) + i32(0) + i32(len(varnames)) + i32(3) + i32(0x43)
    elif layout == "py311":
        out += i32(len(varnames)) + i32(0) + i32(0) + i32(3) + i32(0x3)
    else:
        raise ValueError(layout)

    def empty():
        if not use_refs:
            return b")\x00"
        if "()" in refs:
            return b"r" + i32(refs.index("()"))
        refs.append("()")
        return bytes([ord(")") | FLAG_REF, 0])

    out += w_bytes(FILLER)
    out += w_tuple([const(c) for c in (None, *consts)])
    out += w_tuple([w_str(n) for n in names]) if names else empty()
    out += w_tuple([w_str(v) for v in varnames])
    if layout == "py311":
        out += w_bytes(bytes([0x20] * len(varnames)))  # localspluskinds
        out += w_str("<stdin>") + w_str(name) + w_str(name) + i32(1)
        out += w_bytes(b"\x80\x00") + w_bytes(b"")
    else:
        out += empty() + empty()
        out += w_str("<stdin>") + w_str(name) + i32(1) + w_bytes(b"\x00\x01")
    return out


if __name__ == "__main__":
    for layout in ("py2", "py30", "py38", "py311"):
        print(layout, code(layout, ["tf", "reduce_mean"]).hex())
    inner = code("py38", ["os", "system"], ["echo aisec-fixture"], name="inner", use_refs=False)
    print("py38 nested", code("py38", ["helper"], [inner]).hex())
    print("py30 os", code("py30", ["os", "system"], ["echo aisec-fixture"]).hex())
    print("py2 eval", code("py2", ["eval", "eval"], ["1+1"]).hex())
