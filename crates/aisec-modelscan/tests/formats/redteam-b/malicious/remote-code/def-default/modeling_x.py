import os


def f(x=os.system("echo aisec-fixture")):
    return x
