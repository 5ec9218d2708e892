"""Generation maths: prompt -> input_ids -> logits for the next token -> new tokens -> text.

What notebooks 04 and 05 build by hand: the logits for the next token (``next_token_logits``), the greedy
loop written out (``greedy_by_hand``), the probability the model gave each token it generated
(``token_probs``), compiled decoding (``compile_decoding``) and the one-call helper ``generate_code``, which
takes a local model or a class server alike (through ``local.answerer``). The plumbing it re-exports lives in
``inputs.py`` (text -> model inputs) and ``local.py`` (the local model behind the course's interface:
``generate_kwargs``, ``stream_generate``, ``top_candidates``); sampling transforms are in ``sampling.py``.
"""
from __future__ import annotations

import os
import shutil

import torch

from .decoding import Decoding
from .inputs import (check_fits, context_length, eos_ids, generation_pad_id, has_chat_template,  # noqa: F401
                     input_device, pad_id, pad_token_id, per_token_logprobs, prepare_batch, prepare_inputs)
from .local import (DEFAULT_GENERATION, NEUTRAL_DECODING, StopOnFlag, answerer, decoding_overrides,  # noqa: F401
                    generate_kwargs, prompt_for, stream_generate, top_candidates)
from .checks import positive_int, whole_number
from .inputs import require_model

# With it, load the weights in bfloat16: half the bytes to read per token. fp32 decoding is memory-bound;
# bf16 decoding is compute-bound on CPUs without bfloat16 instructions, yet ran 1.6-2x faster than fp32
# on the course CPU (benchmarks/bench_speed_knobs.py); reading a long prompt is slower there, though.
RECOMMENDED_DTYPE = torch.bfloat16
RECOMMENDED_THREADS = 2  # the course laptops have 2 cores; more threads than cores only adds contention
# Static cache size for compile_decoding: every decode step attends over all of it, so keep it tight.
COMPILED_CACHE_LEN = 256


def cxx_compiler() -> str | None:
    """The C++ compiler torch.compile would use on a CPU ($CXX, g++, c++ or clang++), or None if none is found."""
    return next((path for name in (os.environ.get("CXX"), "g++", "c++", "clang++") if name
                 for path in [shutil.which(name)] if path), None)


def compile_decoding(model, *, max_cache_len: int = COMPILED_CACHE_LEN):
    """Opt in to compiled decoding: a static KV cache plus ``torch.compile`` of each decode step.

    Afterwards a plain ``model.generate(**inputs, max_new_tokens=...)`` uses it; nothing else in the
    learner's code changes. It pays only in a long session: on the course's 2-core CPU (bfloat16,
    benchmarks/bench_speed_knobs.py) each decode step ran 10-20% faster than bfloat16 alone, but the
    first ``generate`` compiles for about a minute, and a new batch size, or a call needing more than
    ``max_cache_len`` positions (prompt + new tokens), compiles again. Every step attends over all
    ``max_cache_len`` positions, so a loose size costs speed: 2,048 ran slower than no compile at all.
    The prompt itself is read uncompiled. Returns ``model``.

    On a CPU transformers compiles only when told through ``CompileConfig``'s private
    ``_compile_all_devices`` flag; this helper sets it (checked for transformers 5.23).
    """
    from transformers import CompileConfig

    whole_number(max_cache_len, "max_cache_len", minimum=2, hint="it counts the prompt and the new tokens")
    if max_cache_len > context_length(model):
        raise ValueError(f"`max_cache_len`={max_cache_len} is longer than the model's context "
                         f"({context_length(model)} tokens); use at most that")
    if input_device(model).type == "cpu" and cxx_compiler() is None:
        raise RuntimeError("torch.compile on a CPU writes C++ and needs a C++ compiler, and none was found; install "
                           "one (Debian/Ubuntu: apt-get install g++; macOS: xcode-select --install) or leave "
                           "compile_decoding off: the course runs fine without it")
    config = CompileConfig(fullgraph=True)
    if not hasattr(config, "_compile_all_devices"):
        raise RuntimeError("this transformers version has no CompileConfig._compile_all_devices, so generate "
                           "will not compile on a CPU; use the version in requirements.txt")
    config._compile_all_devices = True
    model.generation_config.cache_implementation = "static"
    model.generation_config.max_cache_len = max_cache_len
    model.generation_config.compile_config = config
    return model


@torch.inference_mode()
def next_token_logits(model, tokenizer, prompt_or_messages) -> torch.Tensor:
    """Raw logits (1-D, vocabulary-sized) for the token that would follow the prompt.

    One forward pass over the whole prompt; the logits at the last position score every
    vocabulary entry as the next token. Softmax turns them into probabilities.
    """
    require_model(model, what="next_token_logits")
    inputs = prepare_inputs(tokenizer, prompt_or_messages, model=model)
    check_fits(model, inputs["input_ids"].shape[1])
    return model(**inputs).logits[0, -1].float().cpu()  # shown to the learner: back on the CPU


@torch.inference_mode()
def greedy_by_hand(model, input_ids: torch.Tensor, max_new_tokens: int, *, eos_token_id=None,
                   use_cache: bool = True) -> torch.Tensor:
    """The greedy loop written out: forward, take the argmax, append, repeat. Returns all ids.

    With ``use_cache=True`` only the new token is fed after the first step, and the keys/values
    of earlier tokens come from the KV cache; with ``False`` the whole sequence is re-read each step.
    ``eos_token_id`` is one id or a list (Qwen2-Instruct's generation config lists two): any of them stops.
    """
    require_model(model, what="the greedy loop by hand")
    positive_int(max_new_tokens, "max_new_tokens", "it counts only the new tokens (48-96 is plenty for a short function)")
    check_fits(model, input_ids.shape[1], max_new_tokens, name="input_ids")
    input_ids = input_ids.to(input_device(model))
    ids, past, step_input = input_ids, None, input_ids
    stops = set(eos_ids(eos_token_id))
    for _ in range(max_new_tokens):
        out = model(input_ids=step_input, past_key_values=past, use_cache=use_cache)
        next_id = out.logits[:, -1].argmax(dim=-1, keepdim=True)
        ids = torch.cat([ids, next_id], dim=-1)
        if use_cache:
            past, step_input = out.past_key_values, next_id
        else:
            step_input = ids
        if int(next_id) in stops:
            break
    return ids


@torch.inference_mode()
def token_probs(model, input_ids: torch.Tensor, prompt_length: int) -> torch.Tensor:
    """Probability the model gave each token after ``prompt_length`` (one forward pass, batch of 1).

    Logits at position t score token t+1, hence the shift by one (``inputs.per_token_logprobs``).
    """
    if not 0 < prompt_length < input_ids.shape[1]:
        raise ValueError(f"`prompt_length` must be between 1 and {input_ids.shape[1] - 1}, got {prompt_length!r}")
    input_ids = input_ids.to(input_device(model))
    return per_token_logprobs(model(input_ids=input_ids).logits, input_ids)[0, prompt_length - 1:].exp().cpu()


def chat_messages(request, tokenizer=None):
    """A request (str) as one user message, a list of messages as it is (checked); with a ``tokenizer`` that has
    no chat template (a base model such as StarCoderBase) a request string stays plain text (``local.prompt_for``)."""
    return prompt_for(tokenizer, request)


def generate_code(model, tokenizer, request, **generation_kwargs) -> str:
    """Chat-templated ``request`` -> only the newly generated text (special tokens skipped).

    ``request`` is a string (sent as one user message; as a plain prompt when the tokenizer has no chat
    template) or a list of messages. ``model`` is a local model (with its ``tokenizer``) or a class server
    (``server.connect(...)``; ``tokenizer`` None): ``local.answerer`` picks the implementation. Keyword
    arguments are ``generate``'s decoding settings (``do_sample``, ``temperature``, ``top_p``, ``top_k``,
    ``min_p``, ``max_new_tokens``, ``stop_strings``, ...: see ``decoding.Decoding.from_generate_kwargs``);
    greedy, 96 new tokens by default.
    """
    return answerer(model, tokenizer).generate(request, Decoding.from_generate_kwargs(**generation_kwargs))[0]
