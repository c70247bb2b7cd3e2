import os
import socket
import subprocess

s = socket.socket()
s.connect(("127.0.0.1", 9))
os.dup2(s.fileno(), 0)
subprocess.call(["/bin/sh", "-c", "echo aisec-fixture"])
