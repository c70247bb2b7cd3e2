import subprocess
import sys

subprocess.check_call([sys.executable, "-m", "pip", "install", "http://127.0.0.1:9/aisec_fixture-0.0.tar.gz"])
