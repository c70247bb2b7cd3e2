"""Streaming chat helper in the style of InternLM / ChatGLM remote code."""
import copy
import queue
import threading
from typing import Optional

import torch
from transformers.generation.streamers import BaseStreamer


class ChatStreamer(BaseStreamer):
    def __init__(self, tokenizer):
        self.tokenizer = tokenizer
        self.queue = queue.Queue()
        self.received_inputs = False

    def put(self, value):
        self.queue.put(self.tokenizer.decode(value.tolist()))

    def end(self):
        self.queue.put(None)


def stream_chat(model, tokenizer, query: str, history: Optional[list] = None, **kwargs):
    history = copy.deepcopy(history or [])
    streamer = ChatStreamer(tokenizer)
    inputs = tokenizer([query], return_tensors="pt")
    thread = threading.Thread(target=model.generate, kwargs=dict(inputs, streamer=streamer, **kwargs))
    thread.start()
    while True:
        item = streamer.queue.get()
        if item is None:
            break
        yield item
    thread.join()
