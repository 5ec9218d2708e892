"""Text -> model inputs, on the right device, for a local transformers model; and the numbers read back out.

The one path from a prompt or chat messages to ``input_ids`` and ``attention_mask`` (``prepare_inputs``, and
``prepare_batch`` for several chats, padded on the left), made on the device of the model's input embeddings.
Also the rules every local helper shares: the pad id (``pad_id``), the context length, the model check that
a local-only helper makes (``require_model``) and the per-token log-probabilities of a sequence from one
forward pass (``per_token_logprobs``). ``generation.py`` re-exports these for the notebooks.
"""
from __future__ import annotations

import torch

from .prompts import check_messages


def require_model(model, name: str = "model", what: str = "this helper") -> None:
    """A ValueError unless ``model`` is a local torch model: a class server cannot do what ``what`` needs."""
    if not isinstance(model, torch.nn.Module):
        raise ValueError(f"`{name}` must be a local transformers model (models.load(...) or "
                         f"AutoModelForCausalLM.from_pretrained(...)), got {model!r}: {what} reads the model's own "
                         "logits or weights, which a class server does not send; use the local model here")


def context_length(model) -> int:
    """The most tokens (prompt + new) the model was trained to attend over."""
    return int(getattr(model.config, "max_position_embeddings", 0) or 2 ** 31)


def input_device(model) -> torch.device:
    """Where a model's inputs go: the device of its input embeddings.

    With ``device_map="auto"`` the layers may sit on several GPUs (and the CPU); accelerate's hooks
    move the activations from layer to layer, but the ids must start where the embeddings are.
    """
    return model.get_input_embeddings().weight.device


def has_chat_template(tokenizer) -> bool:
    """Does the tokenizer know a chat format? A base model's (StarCoderBase) does not: it continues plain text."""
    return bool(getattr(tokenizer, "chat_template", None))


def eos_ids(eos_token_id) -> list[int]:
    """``generation_config.eos_token_id`` as a list: it may be None, one id, or several (Qwen2-Instruct lists two)."""
    if eos_token_id is None:
        return []
    return [int(i) for i in eos_token_id] if isinstance(eos_token_id, (list, tuple)) else [int(eos_token_id)]


def pad_id(model=None, tokenizer=None) -> int | None:
    """The one pad-id rule: the generation config's pad id, else the tokenizer's, else the first EOS id
    (the generation config's, then the tokenizer's). Padding is masked out, so any of them works; one id, even
    when the config lists two EOS ids (Qwen2-Instruct)."""
    config = getattr(model, "generation_config", None)
    candidates = [getattr(config, "pad_token_id", None), getattr(tokenizer, "pad_token_id", None),
                  next(iter(eos_ids(getattr(config, "eos_token_id", None))), None),
                  getattr(tokenizer, "eos_token_id", None)]
    return next((int(i) for i in candidates if i is not None), None)


def pad_token_id(tokenizer) -> int | None:
    """``pad_id`` from the tokenizer alone: its pad id, or its EOS id when it has none (StarCoder's, Llama's)."""
    return pad_id(tokenizer=tokenizer)


def generation_pad_id(model) -> int | None:
    """``pad_id`` from the generation config alone: its pad id, else its first EOS id."""
    return pad_id(model=model)


def _as_tensors(encoding, device) -> dict:
    """``input_ids`` and ``attention_mask`` as tensors made directly on ``device`` (batch dimension first)."""
    batch = {key: encoding[key] for key in ("input_ids", "attention_mask")}
    if batch["input_ids"] and isinstance(batch["input_ids"][0], int):  # one sequence: add the batch dimension
        batch = {key: [value] for key, value in batch.items()}
    return {key: torch.tensor(value, dtype=torch.long, device=device) for key, value in batch.items()}


def _check_template(tokenizer, name: str) -> None:
    if not has_chat_template(tokenizer):
        raise ValueError(f"`{name}` is a list of chat messages, but this tokenizer "
                         f"({getattr(tokenizer, 'name_or_path', '') or type(tokenizer).__name__}) has no chat "
                         "template: it belongs to a base model, trained to continue plain text, not chats. Give a "
                         "plain prompt string instead, e.g. 'def add(a, b):' (a request string is sent as it is)")


def prepare_inputs(tokenizer, prompt_or_messages, *, model=None, device=None, name: str = "prompt_or_messages"):
    """``{"input_ids", "attention_mask"}`` (batch of 1) for a raw prompt or a list of chat messages.

    The one path from text to model inputs: every helper in the course calls it. The tensors are made on
    ``input_device(model)`` (or ``device``; the CPU when neither is given), so a model on a GPU, on Apple's
    MPS or spread by ``device_map="auto"`` gets its inputs where its embeddings are.

    Messages go through the chat template with ``add_generation_prompt=True`` so the model starts its answer
    as the assistant; if the last message is the assistant's, its text is continued instead (the answer's
    start, e.g. "```python\\ndef cube(x"). A string is tokenized as it is (a raw prompt, no template).
    Messages for a tokenizer without a chat template (a base model such as StarCoderBase) are refused.
    """
    device = input_device(model) if model is not None else torch.device(device or "cpu")
    if isinstance(prompt_or_messages, str):
        if not prompt_or_messages.strip():
            raise ValueError(f"`{name}` is an empty string; give the model something to continue, "
                             "e.g. 'def circle_area(radius):'")
        return _as_tensors(tokenizer(prompt_or_messages), device)
    if isinstance(prompt_or_messages, (list, tuple)):
        messages = check_messages(prompt_or_messages, name)
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
    pad token pads with its EOS token (``pad_id``); the attention mask hides the padding either way.
    """
    if not isinstance(chats, (list, tuple)) or not chats:
        raise ValueError(f"`chats` must be a non-empty list of message lists, got {chats!r}")
    chats = [check_messages(chat, f"chats[{i}]") for i, chat in enumerate(chats)]
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


def check_fits(model, n_prompt: int, max_new_tokens: int = 0, name: str = "prompt_or_messages") -> None:
    """A ValueError naming ``name`` when the prompt and the new tokens exceed the model's context length."""
    limit = context_length(model)
    if n_prompt + max_new_tokens > limit:
        raise ValueError(f"`{name}` is {n_prompt} tokens and `max_new_tokens` is {max_new_tokens}: "
                         f"{n_prompt + max_new_tokens} > the model's context length {limit}. "
                         "Shorten the prompt or ask for fewer new tokens.")


def per_token_logprobs(logits: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    """log p(token t+1 | tokens up to t) for every position: ``logits`` (batch, seq, vocab), ``ids`` (batch, seq)
    -> (batch, seq - 1). The logits at position t score token t+1, hence the shift by one. The one place the
    course computes it: ``generation.token_probs``, ``search.token_logprobs`` and ``loss`` all call it."""
    logprobs = torch.log_softmax(logits[:, :-1].float(), dim=-1)
    return logprobs.gather(-1, ids[:, 1:].to(logprobs.device)[..., None])[..., 0]
