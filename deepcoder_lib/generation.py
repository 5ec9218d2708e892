"""Generation maths: prompt -> input_ids -> logits for the next token -> new tokens -> text.

Everything notebooks 04 and 05 build by hand lives here as small functions: the inputs a chat model
needs (``prepare_inputs``), the logits for the next token (``next_token_logits``), its top
candidates, the greedy loop written out (``greedy_by_hand``), the probability the model gave
each token it generated (``token_probs``), streaming with a stop flag (``stream_generate``), and
the one-call helper ``generate_code``. Sampling transforms live in ``sampling.py``; the
step-through widget and the confidence view (display only) live in ``stepper.py``.
"""
from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Callable

import torch
from transformers import StoppingCriteria, StoppingCriteriaList, TextIteratorStreamer

# The course's default generation setting: greedy (deterministic), 96 new tokens. Prompt-lookup
# decoding (prompt_lookup_num_tokens=10) returns exactly the same greedy tokens but measured SLOWER
# on the 2-core course CPU (0.82x fp32), so it is not in the default: see benchmarks/bench_generation.py.
# repetition_penalty=1.0 is written out because a checkpoint's generation_config.json can set one (Qwen2-Instruct:
# 1.1), and generate applies it to greedy decoding too: the course's greedy is the plain argmax on every checkpoint.
DEFAULT_GENERATION = {"do_sample": False, "repetition_penalty": 1.0, "max_new_tokens": 96}
# The knobs a checkpoint's generation_config.json can set that change which token is picked, at transformers' own
# defaults (GenerationConfig._get_default_generation_params, 5.23). Qwen2-Instruct publishes do_sample=True, T 0.7,
# top_p 0.8, top_k 20 and repetition_penalty 1.1: left in, the course's "greedy" would not be the argmax loop.
# The helpers state their decoding, so a checkpoint's own values go back to these unless the caller names them.
NEUTRAL_DECODING = {"temperature": 1.0, "top_k": 50, "top_p": 1.0, "min_p": None, "typical_p": 1.0,
                    "epsilon_cutoff": 0.0, "eta_cutoff": 0.0, "repetition_penalty": 1.0, "no_repeat_ngram_size": 0,
                    "num_beams": 1, "length_penalty": 1.0}
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

    if isinstance(max_cache_len, bool) or not isinstance(max_cache_len, int) or max_cache_len < 2:
        raise ValueError(f"`max_cache_len` must be an integer >= 2 (prompt + new tokens), got {max_cache_len!r}")
    if max_cache_len > context_length(model):
        raise ValueError(f"`max_cache_len`={max_cache_len} is longer than the model's context "
                         f"({context_length(model)} tokens); use at most that")
    if model.device.type == "cpu" and cxx_compiler() is None:
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


def _check_max_new_tokens(max_new_tokens) -> int:
    if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, int) or max_new_tokens <= 0:
        raise ValueError(f"`max_new_tokens` must be a positive integer, got {max_new_tokens!r}; "
                         "it counts only the new tokens (48-96 is plenty for a short function)")
    return max_new_tokens


def context_length(model) -> int:
    """The most tokens (prompt + new) the model was trained to attend over."""
    return int(getattr(model.config, "max_position_embeddings", 0) or 2 ** 31)


def input_device(model) -> torch.device:
    """Where a model's inputs go: the device of its input embeddings.

    With ``device_map="auto"`` the layers may sit on several GPUs (and the CPU); accelerate's hooks
    move the activations from layer to layer, but the ids must start where the embeddings are.
    """
    return model.get_input_embeddings().weight.device


def _as_tensors(encoding, device) -> dict:
    """``input_ids`` and ``attention_mask`` as tensors made directly on ``device`` (batch dimension first)."""
    batch = {key: encoding[key] for key in ("input_ids", "attention_mask")}
    if batch["input_ids"] and isinstance(batch["input_ids"][0], int):  # one sequence: add the batch dimension
        batch = {key: [value] for key, value in batch.items()}
    return {key: torch.tensor(value, dtype=torch.long, device=device) for key, value in batch.items()}


def has_chat_template(tokenizer) -> bool:
    """Does the tokenizer know a chat format? A base model's (StarCoderBase) does not: it continues plain text."""
    return bool(getattr(tokenizer, "chat_template", None))


def pad_token_id(tokenizer) -> int:
    """The tokenizer's pad id, or its EOS id when it has none (StarCoder's, Llama's): padding is masked out."""
    return tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id


def _check_template(tokenizer, name: str) -> None:
    if not has_chat_template(tokenizer):
        raise ValueError(f"`{name}` is a list of chat messages, but this tokenizer "
                         f"({getattr(tokenizer, 'name_or_path', '') or type(tokenizer).__name__}) has no chat "
                         "template: it belongs to a base model, trained to continue plain text, not chats. Give a "
                         "plain prompt string instead, e.g. 'def add(a, b):' (a request string is sent as it is)")


def _check_messages(messages, name: str) -> list[dict]:
    if not messages or not all(isinstance(m, dict) and {"role", "content"} <= m.keys() for m in messages):
        raise ValueError(f"`{name}` must be a non-empty list of {{'role': ..., 'content': ...}} dicts, "
                         f"got {messages!r}")
    if not any(str(m["content"]).strip() for m in messages):
        raise ValueError(f"`{name}` has only empty messages; write a request in 'content'")
    return list(messages)


def prepare_inputs(tokenizer, prompt_or_messages, *, model=None, device=None, name: str = "prompt_or_messages"):
    """``{"input_ids", "attention_mask"}`` (batch of 1) for a raw prompt or a list of chat messages.

    The one path from text to model inputs: every helper in the course calls it. The tensors are made on
    ``input_device(model)`` (or ``device``; the CPU when neither is given), so a model on a GPU, on Apple's
    MPS or spread by ``device_map="auto"`` gets its inputs where its embeddings are.

    Messages go through the chat template with ``add_generation_prompt=True`` so the model starts its answer
    as the assistant; if the last message is the assistant's, its text is continued instead (the answer's
    start, e.g. "```python\ndef cube(x"). A string is tokenized as it is (a raw prompt, no template).
    Messages for a tokenizer without a chat template (a base model such as StarCoderBase) are refused.
    """
    device = input_device(model) if model is not None else torch.device(device or "cpu")
    if isinstance(prompt_or_messages, str):
        if not prompt_or_messages.strip():
            raise ValueError(f"`{name}` is an empty string; give the model something to continue, "
                             "e.g. 'def circle_area(radius):'")
        return _as_tensors(tokenizer(prompt_or_messages), device)
    if isinstance(prompt_or_messages, (list, tuple)):
        messages = _check_messages(prompt_or_messages, name)
        _check_template(tokenizer, name)
        continues = messages[-1]["role"] == "assistant"
        encoding = tokenizer.apply_chat_template(messages, add_generation_prompt=not continues,
                                                 continue_final_message=continues, return_dict=True)
        return _as_tensors(encoding, device)
    raise ValueError(f"`{name}` must be a string (raw prompt) or a list of chat messages, "
                     f"got {type(prompt_or_messages).__name__}")


def prepare_batch(tokenizer, chats, *, model=None, device=None) -> dict:
    """Model inputs for several chats at once, padded on the left (a decoder-only model continues the right end).

    Same rules and device as ``prepare_inputs``; ``chats`` is a list of message lists. A tokenizer without a
    pad token pads with its EOS token (``pad_token_id``); the attention mask hides the padding either way.
    """
    if not isinstance(chats, (list, tuple)) or not chats:
        raise ValueError(f"`chats` must be a non-empty list of message lists, got {chats!r}")
    chats = [_check_messages(chat, f"chats[{i}]") for i, chat in enumerate(chats)]
    _check_template(tokenizer, "chats")
    device = input_device(model) if model is not None else torch.device(device or "cpu")
    side, pad, tokenizer.padding_side = tokenizer.padding_side, tokenizer.pad_token, "left"
    try:
        if pad is None:
            tokenizer.pad_token = tokenizer.eos_token
        encoding = tokenizer.apply_chat_template(chats, add_generation_prompt=True, padding=True, return_dict=True)
    finally:
        tokenizer.padding_side, tokenizer.pad_token = side, pad
    return _as_tensors(encoding, device)


def _check_fits(model, n_prompt: int, max_new_tokens: int = 0, name: str = "prompt_or_messages") -> None:
    limit = context_length(model)
    if n_prompt + max_new_tokens > limit:
        raise ValueError(f"`{name}` is {n_prompt} tokens and `max_new_tokens` is {max_new_tokens}: "
                         f"{n_prompt + max_new_tokens} > the model's context length {limit}. "
                         "Shorten the prompt or ask for fewer new tokens.")


@torch.inference_mode()
def next_token_logits(model, tokenizer, prompt_or_messages) -> torch.Tensor:
    """Raw logits (1-D, vocabulary-sized) for the token that would follow the prompt.

    One forward pass over the whole prompt; the logits at the last position score every
    vocabulary entry as the next token. Softmax turns them into probabilities.
    """
    inputs = prepare_inputs(tokenizer, prompt_or_messages, model=model)
    _check_fits(model, inputs["input_ids"].shape[1])
    return model(**inputs).logits[0, -1].float().cpu()  # shown to the learner: back on the CPU


def top_candidates(logits: torch.Tensor, tokenizer, n: int = 10) -> list[dict]:
    """The ``n`` most likely next tokens: rank, token_id, token (as text), prob (after softmax), logit."""
    if isinstance(n, bool) or not isinstance(n, int) or n <= 0:
        raise ValueError(f"`n` (how many candidates to show) must be a positive integer, got {n!r}")
    logits = logits.detach().float().cpu()
    probs = torch.softmax(logits, dim=-1)
    top = torch.topk(probs, min(n, probs.numel()))
    return [{"rank": r + 1, "token_id": int(i), "token": tokenizer.decode([int(i)]),
             "prob": float(p), "logit": float(logits[i])}
            for r, (p, i) in enumerate(zip(top.values, top.indices))]


def eos_ids(eos_token_id) -> list[int]:
    """``generation_config.eos_token_id`` as a list: it may be None, one id, or several (Qwen2-Instruct lists two)."""
    if eos_token_id is None:
        return []
    return [int(i) for i in eos_token_id] if isinstance(eos_token_id, (list, tuple)) else [int(eos_token_id)]


@torch.inference_mode()
def greedy_by_hand(model, input_ids: torch.Tensor, max_new_tokens: int, *, eos_token_id=None,
                   use_cache: bool = True) -> torch.Tensor:
    """The greedy loop written out: forward, take the argmax, append, repeat. Returns all ids.

    With ``use_cache=True`` only the new token is fed after the first step, and the keys/values
    of earlier tokens come from the KV cache; with ``False`` the whole sequence is re-read each step.
    ``eos_token_id`` is one id or a list (Qwen2-Instruct's generation config lists two): any of them stops.
    """
    _check_max_new_tokens(max_new_tokens)
    _check_fits(model, input_ids.shape[1], max_new_tokens, name="input_ids")
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

    Logits at position t score token t+1, hence the shift by one.
    """
    if not 0 < prompt_length < input_ids.shape[1]:
        raise ValueError(f"`prompt_length` must be between 1 and {input_ids.shape[1] - 1}, got {prompt_length!r}")
    input_ids = input_ids.to(input_device(model))
    logprobs = torch.log_softmax(model(input_ids=input_ids).logits[0, :-1].float(), dim=-1)
    targets = input_ids[0, 1:]
    return logprobs.gather(-1, targets[:, None])[:, 0][prompt_length - 1:].exp().cpu()


def decoding_overrides(model) -> dict:
    """The decoding knobs ``model.generation_config`` sets (the checkpoint's generation_config.json), each put back
    to transformers' default (``NEUTRAL_DECODING``). Empty for the embedded model; for Qwen2-Instruct
    ``{"temperature": 1.0, "top_k": 50, "top_p": 1.0, "repetition_penalty": 1.0}``. Every course helper that calls
    ``generate`` starts from these, so greedy is the argmax loop and a temperature is only a temperature on any
    checkpoint; a plain ``model.generate(...)`` keeps the checkpoint's own values."""
    config = model.generation_config
    return {key: value for key, value in NEUTRAL_DECODING.items() if getattr(config, key, None) not in (None, value)}


def generate_kwargs(model, inputs, generation_kwargs: dict) -> dict:
    """The keyword arguments for ``model.generate``: the course default (greedy, 96 new tokens, none of the
    checkpoint's own decoding knobs: ``decoding_overrides``) under the caller's, with the lengths checked
    against the model's context."""
    kwargs = {**DEFAULT_GENERATION, **decoding_overrides(model), **generation_kwargs}
    if kwargs.get("do_sample") and kwargs.get("prompt_lookup_num_tokens"):
        kwargs.pop("prompt_lookup_num_tokens")  # drafting is exact for greedy only; sampling goes plain
    if "max_length" in generation_kwargs:
        kwargs.pop("max_new_tokens")  # the learner chose the total length explicitly
    else:
        _check_max_new_tokens(kwargs["max_new_tokens"])
    _check_fits(model, inputs["input_ids"].shape[1], kwargs.get("max_new_tokens", 0), name="request")
    kwargs.setdefault("pad_token_id", generation_pad_id(model))
    return kwargs


def generation_pad_id(model) -> int | None:
    """The pad id for ``generate``: the generation config's, else its first EOS id (one id, even if it lists two)."""
    config = model.generation_config
    return config.pad_token_id if config.pad_token_id is not None else next(iter(eos_ids(config.eos_token_id)), None)


def chat_messages(request, tokenizer=None):
    """A request (str) as one user message; a list of messages as it is.

    With a ``tokenizer`` that has no chat template (a base model such as StarCoderBase), a request string is
    returned as it is: ``prepare_inputs`` then feeds it as a plain prompt, the way base models are used.
    """
    if isinstance(request, str):
        if not request.strip():
            raise ValueError("`request` is an empty string; ask for something, e.g. "
                             "'Write a Python function that returns the area of a circle.'")
        if tokenizer is not None and not has_chat_template(tokenizer):
            return request
        return [{"role": "user", "content": request}]
    return request


@torch.inference_mode()
def generate_code(model, tokenizer, request, **generation_kwargs) -> str:
    """Chat-templated ``request`` -> only the newly generated text (special tokens skipped).

    ``request`` is a string (sent as one user message; as a plain prompt when the tokenizer has no chat
    template) or a list of messages. Keyword arguments go to ``model.generate`` on top of
    ``DEFAULT_GENERATION`` (greedy, 96 new tokens) and ``decoding_overrides(model)``. A class
    server (``server.connect(...)``) in place of ``model`` answers instead; ``tokenizer`` is then unused.
    """
    from . import server_course
    if server_course.is_server(model):
        return server_course.generate_code(model, request, **generation_kwargs)
    inputs = prepare_inputs(tokenizer, chat_messages(request, tokenizer), model=model, name="request")
    kwargs = generate_kwargs(model, inputs, generation_kwargs)
    output_ids = model.generate(**inputs, **kwargs)
    return tokenizer.decode(output_ids[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True)


class StopOnFlag(StoppingCriteria):
    """A stopping criterion for ``generate``: stop at the next token once ``flag`` is set.

    ``flag`` is a ``threading.Event``; a Stop button sets it from another thread.
    """

    def __init__(self, flag: threading.Event):
        self.flag = flag

    def __call__(self, input_ids: torch.Tensor, scores, **kwargs) -> torch.BoolTensor:
        return torch.full((input_ids.shape[0],), self.flag.is_set(), dtype=torch.bool, device=input_ids.device)


def stream_generate(model, tokenizer, request, on_text: Callable[[str], None], *,
                    stop: threading.Event | None = None, **generation_kwargs) -> str:
    """Generate in a background thread and call ``on_text(piece)`` as text arrives; return all text.

    ``TextIteratorStreamer`` hands over decoded text at word boundaries. Setting ``stop`` ends the
    generation at the next token (through ``StopOnFlag``). Errors in generate are re-raised here.
    """
    inputs = prepare_inputs(tokenizer, chat_messages(request, tokenizer), model=model, name="request")
    kwargs = generate_kwargs(model, inputs, generation_kwargs)
    kwargs.pop("prompt_lookup_num_tokens", None)  # the streamer takes one token at a time
    stop = stop if stop is not None else threading.Event()
    streamer = TextIteratorStreamer(tokenizer, skip_prompt=True, skip_special_tokens=True, timeout=120)
    criteria = StoppingCriteriaList([StopOnFlag(stop)])
    errors: list[BaseException] = []

    def work():
        try:
            with torch.inference_mode():
                model.generate(**inputs, **kwargs, streamer=streamer, stopping_criteria=criteria)
        except BaseException as exc:  # surfaced in the caller's thread below
            errors.append(exc)
            streamer.end()

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    pieces = []
    for piece in streamer:
        pieces.append(piece)
        if piece:
            on_text(piece)
    thread.join()
    if errors:
        raise errors[0]
    return "".join(pieces)
