"""Optional CUDA kernels, compiled on first import from the sources shipped beside this file."""

import os
import pathlib
import subprocess

from torch.utils import cpp_extension


def _cuda_version(cuda_dir):
    raw = subprocess.check_output([cuda_dir + "/bin/nvcc", "-V"], universal_newlines=True)
    release = raw.split()[raw.split().index("release") + 1].split(".")
    return int(release[0]), int(release[1][0])


def _make_build_dir(path):
    try:
        os.mkdir(path)
    except OSError:
        if not os.path.isdir(path):
            print(f"could not create {path}")


flags = []
major, minor = _cuda_version(cpp_extension.CUDA_HOME)
if major >= 11:
    flags = ["-gencode", "arch=compute_80,code=sm_80"]

src_dir = pathlib.Path(__file__).parent.absolute()
build_dir = src_dir / "build"
_make_build_dir(build_dir)

fused_rms_norm = cpp_extension.load(
    name="example_fused_rms_norm",
    sources=[str(src_dir / "rms_norm.cpp"), str(src_dir / "rms_norm_cuda.cu")],
    build_directory=build_dir,
    extra_cuda_cflags=["-O3", "--use_fast_math"] + flags,
    verbose=False,
)
