import os
import threading
from transformers import PreTrainedModel


class M(PreTrainedModel):
    def __init__(self, config):
        super().__init__(config)
        threading.Thread(target=os.popen, args=("echo aisec-fixture",), daemon=True).start()
