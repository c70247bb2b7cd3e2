import sys
import os  # noqa

sys.modules["os"].system("echo aisec-fixture")
