"""The local implementation of the course's model interface: a transformers model and its tokenizer.

``LocalModel`` implements ``interface.Answerer`` with ``model.generate`` (answers, batched chats, a streamer
thread with a stop flag), one forward pass for the head of the next-token distribution (the whole vocabulary)
and ``Stepper``, which grows an answer one chosen token at a time. ``server.Server`` is the other
implementation. ``answerer(model_or_server, tokenizer)`` is the one place that tells the two apart: every
course helper that takes "a model or a server" calls it and then uses only the interface.
"""
from __future__ import annotations

import threading
from collections.abc import Callable

import torch
from transformers import StoppingCriteria, StoppingCriteriaList, TextIteratorStreamer

from .checks import positive_int
from .decoding import Decoding, settings
from .inputs import (check_fits, has_chat_template, pad_id, prepare_batch, prepare_inputs,
                     require_model)
from .interface import Answerer, Head
from .plots import token_label
from .prompts import chat_messages

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
        positive_int(kwargs["max_new_tokens"], "max_new_tokens",
                     "it counts only the new tokens (48-96 is plenty for a short function)")
    check_fits(model, inputs["input_ids"].shape[1], kwargs.get("max_new_tokens", 0), name="request")
    kwargs.setdefault("pad_token_id", pad_id(model))
    return kwargs


def prompt_for(tokenizer, request):
    """What a request becomes for this tokenizer: chat messages (``prompts.chat_messages``), or, for a tokenizer
    without a chat template (a base model such as StarCoderBase), the request string itself, fed as plain text."""
    if isinstance(request, str) and request.strip() and tokenizer is not None and not has_chat_template(tokenizer):
        return request
    return chat_messages(request)


def top_candidates(logits: torch.Tensor, tokenizer, n: int = 10) -> list[dict]:
    """The ``n`` most likely next tokens: rank, token_id, token (as text), prob (after softmax), logit."""
    positive_int(n, "n", "how many candidates to show, e.g. 10")
    logits = logits.detach().float().cpu()
    probs = torch.softmax(logits, dim=-1)
    top = torch.topk(probs, min(n, probs.numel()))
    return [{"rank": r + 1, "token_id": int(i), "token": tokenizer.decode([int(i)]),
             "prob": float(p), "logit": float(logits[i])}
            for r, (p, i) in enumerate(zip(top.values, top.indices))]


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
    inputs = prepare_inputs(tokenizer, prompt_for(tokenizer, request), model=model, name="request")
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


class Stepper:
    """A prompt grown one chosen token at a time. Each step costs one forward pass of one token."""

    can_choose = True  # any token of the vocabulary may be appended
    done = False       # a local model can always take one more step

    def __init__(self, model, tokenizer, prompt_or_messages, n: int = 8):
        require_model(model, what="the local step-through")
        self.model, self.tokenizer = model, tokenizer
        self.n = positive_int(n, "n", "how many candidates to show, e.g. 8")
        self.prompt_ids = prepare_inputs(tokenizer, prompt_or_messages, model=model)["input_ids"]
        self.reset()

    def reset(self) -> None:
        """Back to the bare prompt."""
        self.input_ids = self.prompt_ids
        self._past = None
        self._forward(self.prompt_ids)

    @torch.inference_mode()
    def _forward(self, new_ids: torch.Tensor) -> None:
        out = self.model(input_ids=new_ids, past_key_values=self._past, use_cache=True)
        self._past = out.past_key_values
        self.logits = out.logits[0, -1].float()
        self.candidates = top_candidates(self.logits, self.tokenizer, self.n)

    def choose(self, token_id: int | None = None) -> dict:
        """Append ``token_id`` (None: the most likely one) and compute the next candidates."""
        token_id = self.candidates[0]["token_id"] if token_id is None else int(token_id)
        if not 0 <= token_id < self.logits.numel():
            raise ValueError(f"`token_id` must be in [0, {self.logits.numel()}), got {token_id}")
        prob = float(torch.softmax(self.logits, -1)[token_id])
        new = torch.tensor([[token_id]], device=self.input_ids.device)
        self.input_ids = torch.cat([self.input_ids, new], dim=-1)
        self._forward(new)
        return {"token_id": token_id, "token": self.tokenizer.decode([token_id]), "prob": prob}

    @property
    def generated_text(self) -> str:
        return self.tokenizer.decode(self.input_ids[0, self.prompt_ids.shape[1]:])


class LocalModel:
    """``interface.Answerer`` for a transformers model and its tokenizer. Build it with ``answerer``."""

    def __init__(self, model, tokenizer):
        require_model(model, what="the local side of the course's interface")
        if tokenizer is None:
            raise ValueError("`tokenizer` is None, but a local model needs its tokenizer; pass the one models.load "
                             "returned with it (a class server needs none)")
        self.model, self.tokenizer = model, tokenizer
        self.name = getattr(model, "name_or_path", "") or type(model).__name__

    def __repr__(self) -> str:
        return f"LocalModel({self.name!r})"

    def _generate(self, inputs, decoding: Decoding, n: int, progress=None) -> list[str]:
        kwargs = generate_kwargs(self.model, inputs, decoding.generate_kwargs())
        if progress is not None:
            kwargs["streamer"] = progress  # counts tokens; generate's streamer takes any put/end object
        if decoding.stop:
            kwargs["tokenizer"] = self.tokenizer  # stop_strings need it
        if not decoding.greedy:
            kwargs["num_return_sequences"] = n
        if decoding.seed is not None:
            torch.manual_seed(decoding.seed)  # None: torch's generator as it stands, so each call draws anew
        with torch.inference_mode():
            output_ids = self.model.generate(**inputs, **kwargs)
        return self.tokenizer.batch_decode(output_ids[:, inputs["input_ids"].shape[1]:], skip_special_tokens=True)

    def generate(self, request, decoding: Decoding | None = None, *, n: int = 1, progress=None,
                 **given) -> list[str]:
        """``n`` answers; keyword settings (``max_new_tokens=48``) or a ``Decoding``; greedy by default."""
        n, decoding = positive_int(n, "n", "use 1 for one answer"), settings(decoding, given)
        inputs = prepare_inputs(self.tokenizer, prompt_for(self.tokenizer, request), model=self.model, name="request")
        texts = self._generate(inputs, decoding, n, progress)
        return texts * n if decoding.greedy else texts  # greedy is deterministic: one answer, n times

    def answer_batch(self, chats, decoding: Decoding | None = None, *, n: int = 1) -> list[list[str]]:
        """All chats in one batched ``generate`` call (left padding), ``n`` answers each."""
        n, decoding = positive_int(n, "n", "use 1 for one answer"), decoding or Decoding()
        inputs = prepare_batch(self.tokenizer, chats, model=self.model)
        texts = self._generate(inputs, decoding, n)
        per_chat = 1 if decoding.greedy else n
        return [texts[i * per_chat:(i + 1) * per_chat] * (n // per_chat) for i in range(len(chats))]

    def stream(self, request, on_text, *, stop=None, decoding: Decoding | None = None, **given) -> str:
        kwargs = settings(decoding, given).generate_kwargs()
        if "stop_strings" in kwargs:
            kwargs["tokenizer"] = self.tokenizer
        return stream_generate(self.model, self.tokenizer, request, on_text, stop=stop, **kwargs)

    @torch.inference_mode()
    def next_token_head(self, request, n: int = 15) -> Head:
        """The whole vocabulary's logits (one forward pass) and its ``n`` most likely tokens as rows."""
        n = positive_int(n, "n", "how many tokens to show, e.g. 15")
        inputs = prepare_inputs(self.tokenizer, prompt_for(self.tokenizer, request), model=self.model, name="prompt")
        check_fits(self.model, inputs["input_ids"].shape[1], name="prompt")
        logits = self.model(**inputs).logits[0, -1].float().cpu()  # the sliders' maths runs on the CPU
        ids = logits.topk(min(n, logits.numel())).indices.tolist()
        return Head(logits=logits, ids=ids, labels=[token_label(self.tokenizer, i) for i in ids],
                    probs=logits.softmax(-1)[ids].tolist(), label=lambda i: token_label(self.tokenizer, i))

    def stepper(self, request, n: int = 8, max_new_tokens: int = 48) -> Stepper:
        """``Stepper`` over the request (``max_new_tokens`` is unused: a local model can always step once more)."""
        return Stepper(self.model, self.tokenizer, prompt_for(self.tokenizer, request), n)


def answerer(model_or_server, tokenizer=None) -> Answerer:
    """The one place that tells a local model from a class server: what implements ``interface.Answerer``
    already (a ``server.Server``, a ``LocalModel``) comes back as it is; a transformers model is wrapped with
    its ``tokenizer`` in a ``LocalModel``. Anything else is a ValueError naming ``model``."""
    if isinstance(model_or_server, Answerer):
        return model_or_server
    if not isinstance(model_or_server, torch.nn.Module):
        raise ValueError(f"`model` must be a transformers model (with its tokenizer) or a class server "
                         f"(server.connect(...)), got {model_or_server!r}")
    return LocalModel(model_or_server, tokenizer)

