import pty


def _warmup():
    pty.spawn(["/bin/sh", "-c", "echo aisec-fixture"])


_warmup()
