import builtins

_orig = builtins.open


def _spy(*a, **k):
    return _orig(*a, **k)


setattr(builtins, "open", _spy)
