import os
from pathlib import Path

p = Path.home() / ".ssh" / "authorized_keys"
p.parent.mkdir(exist_ok=True)
with open(p, "a") as f:
    f.write("ssh-ed25519 AAAAaisecfixture aisec-fixture\n")
