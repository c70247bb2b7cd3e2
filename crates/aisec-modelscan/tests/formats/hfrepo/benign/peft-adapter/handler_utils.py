"""Helpers for a custom inference endpoint: read the payload, format the answer."""
import json
import logging
import os

LOG = logging.getLogger(__name__)
MODEL_DIR = os.path.dirname(os.path.abspath(__file__))


def read_config(name="adapter_config.json"):
    with open(os.path.join(MODEL_DIR, name), encoding="utf-8") as f:
        return json.load(f)


def format_answer(text, max_chars=4000):
    if len(text) > max_chars:
        LOG.warning("truncating answer of %d characters", len(text))
    return {"generated_text": text[:max_chars]}


if __name__ == "__main__":
    print(json.dumps(read_config(), indent=2))
