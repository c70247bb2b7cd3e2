import urllib.request

urllib.request.urlretrieve("http://127.0.0.1:9/x.py", "/tmp/aisec-fixture.py")
