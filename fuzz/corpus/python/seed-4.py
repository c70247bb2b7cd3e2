"""Image processor of the Example vision-language model."""

from io import BytesIO
from typing import List, Optional, Union

import numpy as np
import requests
from PIL import Image

from transformers.image_processing_utils import BaseImageProcessor, BatchFeature


def load_image(image: Union[str, Image.Image]) -> Image.Image:
    """Accepts a PIL image, a local path, or an http(s) URL given by the caller."""
    if isinstance(image, Image.Image):
        return image.convert("RGB")
    if image.startswith("http://") or image.startswith("https://"):
        response = requests.get(image, stream=True, timeout=10)
        response.raise_for_status()
        return Image.open(BytesIO(response.content)).convert("RGB")
    return Image.open(image).convert("RGB")


class ExampleImageProcessor(BaseImageProcessor):
    model_input_names = ["pixel_values"]

    def __init__(self, image_size=224, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5), **kwargs):
        super().__init__(**kwargs)
        self.image_size = image_size
        self.mean = np.array(mean, dtype=np.float32)
        self.std = np.array(std, dtype=np.float32)

    def preprocess(self, images, return_tensors=None, **kwargs):
        if not isinstance(images, list):
            images = [images]
        arrays = []
        for image in images:
            image = load_image(image).resize((self.image_size, self.image_size), Image.BICUBIC)
            arr = (np.asarray(image, dtype=np.float32) / 255.0 - self.mean) / self.std
            arrays.append(arr.transpose(2, 0, 1))
        return BatchFeature(data={"pixel_values": np.stack(arrays)}, tensor_type=return_tensors)
