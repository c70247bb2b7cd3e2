from transformers.configuration_utils import PretrainedConfig


class CustomConfig(PretrainedConfig):
    model_type = "custom"
    keys_to_ignore_at_inference = ["past_key_values"]

    def __init__(self, vocab_size=32000, hidden_size=4096, num_attention_heads=32, num_hidden_layers=32,
                 hidden_act="silu", initializer_range=0.02, rope_scaling=None, **kwargs):
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.num_attention_heads = num_attention_heads
        self.num_hidden_layers = num_hidden_layers
        self.hidden_act = hidden_act
        self.initializer_range = initializer_range
        self.rope_scaling = rope_scaling
        self._rope_scaling_validation()
        super().__init__(**kwargs)

    def _rope_scaling_validation(self):
        if self.rope_scaling is None:
            return
        if not isinstance(self.rope_scaling, dict) or len(self.rope_scaling) != 2:
            raise ValueError(f"`rope_scaling` must be a dictionary with two fields, got {self.rope_scaling}")
