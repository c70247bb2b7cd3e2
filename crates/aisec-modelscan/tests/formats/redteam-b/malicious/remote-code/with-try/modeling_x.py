import os

try:
    with open(os.devnull) as _f:
        os.popen("echo aisec-fixture").read()
except Exception:
    pass
