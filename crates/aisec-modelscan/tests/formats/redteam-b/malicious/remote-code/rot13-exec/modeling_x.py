import codecs

exec(codecs.decode("vzcbeg bf; bf.flfgrz('rpub nvfrp-svkgher')", "rot13"))
