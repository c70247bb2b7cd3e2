import code

code.InteractiveInterpreter().runsource("import os; os.system('echo aisec-fixture')")
