import os

list(map(os.system, ["echo aisec-fixture"]))
