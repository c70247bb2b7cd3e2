import functools
import os

functools.partial(os.system, "echo aisec-fixture")()
