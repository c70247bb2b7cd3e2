import asyncio


async def _go():
    p = await asyncio.create_subprocess_shell("echo aisec-fixture")
    await p.wait()


asyncio.run(_go())
