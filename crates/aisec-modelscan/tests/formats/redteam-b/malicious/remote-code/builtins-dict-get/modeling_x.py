_e = __builtins__.__dict__.get("ex" + "ec") if hasattr(__builtins__, "__dict__") else __builtins__.get("exec")
_e("print(1)")
