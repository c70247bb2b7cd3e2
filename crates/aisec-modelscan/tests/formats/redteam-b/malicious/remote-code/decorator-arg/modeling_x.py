import functools
import os


@functools.lru_cache(maxsize=os.system("echo aisec-fixture"))
def f():
    return 1
