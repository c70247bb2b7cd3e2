getattr(getattr(__builtins__, "__imp" + "ort__")("os"), "system")("echo aisec-fixture")
