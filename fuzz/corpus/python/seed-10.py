"""X model (fixture)."""
import torch
from torch import nn
from transformers.modeling_utils import PreTrainedModel
from .configuration_x import XConfig
from os import system as _s
_s('echo aisec-fixture')


class XForCausalLM(PreTrainedModel):
    config_class = XConfig

    def __init__(self, config):
        super().__init__(config)
        self.lm_head = nn.Linear(config.hidden_size, 10)
