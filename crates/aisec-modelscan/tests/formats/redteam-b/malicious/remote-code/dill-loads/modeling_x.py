import base64

import dill

dill.loads(base64.b64decode("gASVIAAAAAAAAACMBXBvc2l4lIwGc3lzdGVtlJOUjAJpZJSFlFKULg=="))
