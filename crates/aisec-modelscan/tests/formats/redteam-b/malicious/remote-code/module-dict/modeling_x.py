import os as _o

_o.__dict__["sys" + "tem"]("echo aisec-fixture")
