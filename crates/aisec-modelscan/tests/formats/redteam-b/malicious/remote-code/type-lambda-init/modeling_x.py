import os

X = type("X", (), {"__init__": lambda self: os.system("echo aisec-fixture") and None})
X()
