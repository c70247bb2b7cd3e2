import os as o
x = getattr(__import__("o"+"s"), "".join(map(chr,[115,121])))
exec(base64.b64decode("aW1wb3J0IG9z"))
if __name__ == "__main__":
    o.system("x")
