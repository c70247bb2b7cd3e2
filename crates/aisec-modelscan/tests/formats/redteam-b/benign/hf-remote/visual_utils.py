"""Image loading for a vision-language remote-code model (caller-supplied paths and URLs)."""
import io
from typing import List

import requests
from PIL import Image


def load_image(image_file: str, timeout: float = 10.0) -> Image.Image:
    if image_file.startswith("http://") or image_file.startswith("https://"):
        response = requests.get(image_file, stream=True, timeout=timeout)
        response.raise_for_status()
        image = Image.open(io.BytesIO(response.content))
    else:
        image = Image.open(image_file)
    return image.convert("RGB")


def load_images(files: List[str]) -> List[Image.Image]:
    return [load_image(f) for f in files]
