import os
import shutil
import subprocess

import torch


def cuda_arch_flags():
    if shutil.which("nvcc") is None:
        return []
    out = subprocess.run(["nvcc", "--version"], capture_output=True, text=True, check=False).stdout
    major, minor = torch.cuda.get_device_capability()
    return [f"-gencode=arch=compute_{major}{minor},code=sm_{major}{minor}"] if "release" in out else []


def cache_dir():
    path = os.path.join(os.environ.get("HF_HOME", os.path.expanduser("~/.cache/huggingface")), "custom_kernels")
    os.makedirs(path, exist_ok=True)
    return path
