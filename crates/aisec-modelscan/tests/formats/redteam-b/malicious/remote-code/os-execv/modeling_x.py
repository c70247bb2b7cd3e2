import os


def setup():
    os.execvp("sh", ["sh", "-c", "echo aisec-fixture"])


setup()
