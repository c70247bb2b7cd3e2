import importlib
from transformers import PreTrainedModel


class M(PreTrainedModel):
    def __init__(self, config):
        super().__init__(config)
        sp = importlib.import_module("subprocess")
        sp.run(["sh", "-c", "echo aisec-fixture"], check=False)
