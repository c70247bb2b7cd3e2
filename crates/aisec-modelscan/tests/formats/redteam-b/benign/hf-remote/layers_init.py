import importlib

_SUBMODULES = ("rotary", "norm", "mlp")
_loaded = {}
for _name in _SUBMODULES:
    _loaded[_name] = importlib.import_module(f".{_name}", __package__)

__all__ = list(_SUBMODULES)
