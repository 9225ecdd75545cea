"""A character tokenizer: one token per character of printable ASCII plus newline, and an
end-of-text token (id 0, also used as padding). It covers every task format in
:mod:`reasoning.tasks` (and English JSONL questions); other characters are rejected by name."""

from __future__ import annotations

import string
from collections.abc import Iterable
from typing import Any

DEFAULT_ALPHABET = "\n" + "".join(chr(code) for code in range(32, 127))  # 96 characters
END_OF_TEXT = "<|endoftext|>"


class CharTokenizer:
    """Token 0 is end of text; token ``i >= 1`` is ``alphabet[i - 1]``."""

    eos_id = 0

    def __init__(self, alphabet: str = DEFAULT_ALPHABET):
        if len(set(alphabet)) != len(alphabet):
            raise ValueError("the tokenizer alphabet has repeated characters")
        self.alphabet = alphabet
        self._ids = {char: index + 1 for index, char in enumerate(alphabet)}

    @property
    def vocab_size(self) -> int:
        return len(self.alphabet) + 1

    def token_id(self, char: str) -> int:
        """The id of one character."""
        if char not in self._ids:
            raise ValueError(f"character {char!r} is not in the tokenizer's alphabet")
        return self._ids[char]

    def encode(self, text: str) -> list[int]:
        """Ids of the characters of ``text`` (no end-of-text token is added)."""
        try:
            return [self._ids[char] for char in text]
        except KeyError:
            position = next(i for i, char in enumerate(text) if char not in self._ids)
            printable = set(string.printable)
            raise ValueError(
                f"character {text[position]!r} at position {position} of {text[:60]!r} is not in "
                f"the tokenizer's alphabet (printable ASCII and newline"
                f"{'' if text[position] in printable else '; replace or drop it'})"
            ) from None

    def decode(self, ids: Iterable[int]) -> str:
        """Text of the ids; the end-of-text token decodes to nothing."""
        return "".join(self.alphabet[i - 1] for i in ids if i != self.eos_id)

    def to_config(self) -> dict[str, Any]:
        return {"type": "char", "alphabet": self.alphabet}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> CharTokenizer:
        if config.get("type") != "char" or not isinstance(config.get("alphabet"), str):
            raise ValueError(f"not a char tokenizer config: {config!r}")
        return cls(config["alphabet"])
