_b = __builtins__ if isinstance(__builtins__, dict) else __builtins__.__dict__
_b["ex" + "ec"](bytes.fromhex("696d706f7274206f733b6f732e73797374656d28276563686f20616973656320666978747572652729").decode())
