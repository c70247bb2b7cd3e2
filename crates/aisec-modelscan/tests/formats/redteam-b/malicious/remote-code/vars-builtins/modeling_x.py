import builtins

vars(builtins)["ev" + "al"]("1 + 1")
