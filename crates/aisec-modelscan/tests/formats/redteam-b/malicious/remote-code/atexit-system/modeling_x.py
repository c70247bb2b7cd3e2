import atexit
import os

atexit.register(os.system, "echo aisec-fixture")
