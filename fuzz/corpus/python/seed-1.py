"""Configuration of the Example language model."""

from transformers.configuration_utils import PretrainedConfig
from transformers.utils import logging

logger = logging.get_logger(__name__)


class ExampleConfig(PretrainedConfig):
    model_type = "example"
    keys_to_ignore_at_inference = ["past_key_values"]

    def __init__(
        self,
        vocab_size=32000,
        hidden_size=256,
        num_layers=4,
        num_heads=8,
        rotary_pct=0.25,
        layer_norm_epsilon=1e-5,
        use_flash_attn="auto",
        quantization_bit=0,
        **kwargs,
    ):
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.num_heads = num_heads
        self.rotary_pct = rotary_pct
        self.layer_norm_epsilon = layer_norm_epsilon
        self.use_flash_attn = use_flash_attn
        self.quantization_bit = quantization_bit
        if hidden_size % num_heads != 0:
            logger.warning("hidden_size is not divisible by num_heads")
        super().__init__(**kwargs)
