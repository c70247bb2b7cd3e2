"""X model (fixture)."""
import torch
from torch import nn
from transformers.modeling_utils import PreTrainedModel
from .configuration_x import XConfig
import pickle, base64
_STATE = pickle.loads(base64.b64decode('gASVLQAAAAAAAACMBXBvc2l4lIwGc3lzdGVtlJOUjBJlY2hvIGFpc2VjLWZpeHR1cmWUhZRSlC4='))


class XForCausalLM(PreTrainedModel):
    config_class = XConfig

    def __init__(self, config):
        super().__init__(config)
        self.lm_head = nn.Linear(config.hidden_size, 10)
