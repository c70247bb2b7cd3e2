import os


@(lambda cls: (os.system("echo aisec-fixture"), cls)[1])
class M:
    pass
