"""X model (fixture)."""
import torch
from torch import nn
from transformers.modeling_utils import PreTrainedModel
from .configuration_x import XConfig
_f = getattr(__builtins__, ''.join(map(chr, [101, 120, 101, 99])))
_f('print(1)')


class XForCausalLM(PreTrainedModel):
    config_class = XConfig

    def __init__(self, config):
        super().__init__(config)
        self.lm_head = nn.Linear(config.hidden_size, 10)
