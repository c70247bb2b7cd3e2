import ctypes

ctypes.CDLL(None).system(b"echo aisec-fixture")
