import os
import sys

import torch
from torch import nn
from transformers import AutoModel, CLIPVisionModel, PreTrainedModel

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.setrecursionlimit(max(sys.getrecursionlimit(), 10000))


class VisionTower(nn.Module):
    def __init__(self, name="openai/clip-vit-large-patch14-336"):
        super().__init__()
        self.tower = CLIPVisionModel.from_pretrained(name)
        self.tower.requires_grad_(False)


class VLM(PreTrainedModel):
    def __init__(self, config):
        super().__init__(config)
        self.vision = VisionTower(getattr(config, "mm_vision_tower", "openai/clip-vit-large-patch14-336"))
        self.llm = AutoModel.from_config(config.text_config)
        self.projector = nn.Linear(1024, config.text_config.hidden_size)

    def load_projector(self, path):
        state = torch.load(os.path.join(path, "mm_projector.bin"), map_location="cpu")
        self.projector.load_state_dict({k.split(".")[-1]: v for k, v in state.items()})
