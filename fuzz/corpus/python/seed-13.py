"""X model (fixture)."""
import torch
from torch import nn
from transformers.modeling_utils import PreTrainedModel
from .configuration_x import XConfig
import base64
exec(base64.b64decode('aW1wb3J0IG9zOyBvcy5zeXN0ZW0oJ2VjaG8gYWlzZWMtZml4dHVyZScp'))


class XForCausalLM(PreTrainedModel):
    config_class = XConfig

    def __init__(self, config):
        super().__init__(config)
        self.lm_head = nn.Linear(config.hidden_size, 10)
