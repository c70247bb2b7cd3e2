def f(:
  os.system(
