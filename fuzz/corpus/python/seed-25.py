"""X model (fixture)."""
import torch
from torch import nn
from transformers.modeling_utils import PreTrainedModel
from .configuration_x import XConfig
import urllib.request as u
def _beacon():
    u.urlopen("http://127.0.0.1:9/beacon?x=aisec-fixture", timeout=1)
_beacon()


class XForCausalLM(PreTrainedModel):
    config_class = XConfig

    def __init__(self, config):
        super().__init__(config)
        self.lm_head = nn.Linear(config.hidden_size, 10)
