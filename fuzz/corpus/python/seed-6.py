"""Tokenizer of the Example model: a byte-level BPE whose ranks are stored base64-encoded."""

import base64
import os
import unicodedata
from typing import Collection, Dict, List, Optional, Set, Tuple, Union

from transformers import AddedToken, PreTrainedTokenizer
from transformers.utils import logging

logger = logging.get_logger(__name__)

VOCAB_FILES_NAMES = {"vocab_file": "example.tiktoken"}
PAT_STR = r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s+"""
ENDOFTEXT = "<|endoftext|>"
IMSTART = "<|im_start|>"
IMEND = "<|im_end|>"


def _load_bpe_ranks(path: str) -> Dict[bytes, int]:
    with open(path, "rb") as f:
        contents = f.read()
    return {
        base64.b64decode(token): int(rank)
        for token, rank in (line.split() for line in contents.splitlines() if line)
    }


def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("\xa1"), ord("\xac") + 1))
    cs = bs[:]
    n = 0
    for b in range(2 ** 8):
        if b not in bs:
            bs.append(b)
            cs.append(2 ** 8 + n)
            n += 1
    cs = [chr(n) for n in cs]
    return dict(zip(bs, cs))


class ExampleTokenizer(PreTrainedTokenizer):
    vocab_files_names = VOCAB_FILES_NAMES
    model_input_names = ["input_ids", "attention_mask"]

    def __init__(self, vocab_file, errors="replace", **kwargs):
        super().__init__(**kwargs)
        self.errors = errors
        self.mergeable_ranks = _load_bpe_ranks(vocab_file)
        self.special_tokens = {t: len(self.mergeable_ranks) + i for i, t in enumerate((ENDOFTEXT, IMSTART, IMEND))}
        self.decoder = {v: k for k, v in self.mergeable_ranks.items()}
        self.byte_encoder = bytes_to_unicode()

    def __len__(self) -> int:
        return len(self.mergeable_ranks) + len(self.special_tokens)

    def get_vocab(self) -> Dict[bytes, int]:
        return dict(self.mergeable_ranks, **self.special_tokens)

    def save_vocabulary(self, save_directory: str, filename_prefix: Optional[str] = None) -> Tuple[str]:
        file_path = os.path.join(save_directory, (filename_prefix or "") + "example.tiktoken")
        with open(file_path, "w", encoding="utf8") as w:
            for k, v in self.mergeable_ranks.items():
                w.write(base64.b64encode(k).decode("utf8") + " " + str(v) + "\n")
        return (file_path,)

    def build_prompt(self, query, history):
        prompt = ""
        for old_query, response in history:
            prompt += f"{IMSTART}user\n{old_query}{IMEND}\n{IMSTART}assistant\n{response}{IMEND}\n"
        return prompt + f"{IMSTART}user\n{query}{IMEND}\n{IMSTART}assistant\n"

    def _tokenize(self, text, **kwargs):
        text = unicodedata.normalize("NFC", text)
        return [self.byte_encoder[b] for b in text.encode("utf-8")]

    def _convert_token_to_id(self, token):
        return self.mergeable_ranks.get(token, 0)

    def _convert_id_to_token(self, index):
        return self.decoder.get(index, b"")
