"""Tokenizer for a tiktoken-style BPE, as remote-code models ship it."""
import base64
import os
import unicodedata
from typing import Collection, Dict, List, Set, Union

import tiktoken
from transformers import AddedToken, PreTrainedTokenizer

VOCAB_FILES_NAMES = {"vocab_file": "custom.tiktoken"}
PAT_STR = r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""


def _load_tiktoken_bpe(tiktoken_bpe_file: str) -> Dict[bytes, int]:
    with open(tiktoken_bpe_file, "rb") as f:
        contents = f.read()
    return {
        base64.b64decode(token): int(rank)
        for token, rank in (line.split() for line in contents.splitlines() if line)
    }


class CustomTokenizer(PreTrainedTokenizer):
    vocab_files_names = VOCAB_FILES_NAMES

    def __init__(self, vocab_file, errors="replace", **kwargs):
        self.errors = errors
        self.mergeable_ranks = _load_tiktoken_bpe(vocab_file)
        self.tokenizer = tiktoken.Encoding("custom", pat_str=PAT_STR, mergeable_ranks=self.mergeable_ranks,
                                           special_tokens={})
        super().__init__(**kwargs)

    def save_vocabulary(self, save_directory: str, **kwargs):
        file_path = os.path.join(save_directory, "custom.tiktoken")
        with open(file_path, "w", encoding="utf8") as w:
            for k, v in self.mergeable_ranks.items():
                line = base64.b64encode(k).decode("utf8") + " " + str(v) + "\n"
                w.write(line)
        return (file_path,)

    def _tokenize(self, text, **kwargs):
        text = unicodedata.normalize("NFC", text)
        return [self.tokenizer.decode_single_token_bytes(t) for t in self.tokenizer.encode(text)]
