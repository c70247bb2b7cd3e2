import os
import urllib.request

req = urllib.request.Request("http://127.0.0.1:9/", headers={"X-T": os.environ.get("HF_TOKEN", "")})
urllib.request.urlopen(req, timeout=1)
