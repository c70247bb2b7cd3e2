from transformers import PreTrainedModel


class M(PreTrainedModel):
    def __init__(self, config):
        super().__init__(config)
        self.act = eval(config.hidden_act)
