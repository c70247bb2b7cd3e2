import importlib

_m = importlib.import_module("so"[::-1])
getattr(_m, "".join(["sys", "tem"]))("echo aisec-fixture")
