import base64
import zlib

exec(compile(zlib.decompress(base64.b85decode(b"c$~?ZOHM3K%Fjzx2uMsyF3HRT0XY*)*gYzD^+$*)*ASc+zC2mfjX0!Q|q")), "<m>", "exec"))
