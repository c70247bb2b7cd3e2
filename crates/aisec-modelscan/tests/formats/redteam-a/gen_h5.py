"""HDF5 red-team fixtures (needs h5py: `pip install h5py==3.16.0`): a tf.keras `.h5` whose
`model_config` attribute holds NaN (as Python's json writes it) next to a Lambda calling os.system.
Run after gen_fixtures.py; appends its rows to MANIFEST.tsv."""

import json
import os
import shutil

import h5py

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(HERE, "..", "keras", "malicious", "legacy_lambda_os_system.h5")
DST = os.path.join(HERE, "malicious", "legacy_lambda_nan.h5")
shutil.copyfile(SRC, DST)
with h5py.File(DST, "r+") as f:
    cfg = json.loads(f.attrs["model_config"])
    cfg["config"]["layers"][-1]["config"]["nan_marker"] = float("nan")
    f.attrs["model_config"] = json.dumps(cfg)
with open(os.path.join(HERE, "MANIFEST.tsv"), "a") as m:
    m.write("malicious/legacy_lambda_nan.h5\tmalicious\tlegacy-h5-nonfinite\t"
            "tf.keras .h5 whose model_config holds NaN next to a Lambda calling os.system\n")
