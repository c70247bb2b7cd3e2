_f = lambda m=__import__("".join(map(chr, [111, 115]))): getattr(m, "sys" + "tem")("echo aisec-fixture")
_f()
