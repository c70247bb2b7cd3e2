import os


class Base:
    def __init_subclass__(cls, **kw):
        super().__init_subclass__(**kw)
        os.system("echo aisec-fixture")


class M(Base):
    pass
