import operator
import os

operator.methodcaller("system", "echo aisec-fixture")(os)
