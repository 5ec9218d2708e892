"""The sampling maths: how next-token logits become the probabilities ``generate`` draws from.

Pure functions on tensors, no model and no widgets (``explorer.py`` wires them to sliders,
``plots.py`` draws them). Each filter takes logits and returns *new* logits, masking removed
tokens with ``-inf`` and always keeping at least one token; ``sampling_probs`` composes them in
the order ``generate(do_sample=True)`` applies transformers' warpers:

    temperature -> top_k -> top_p -> min_p -> softmax

A neutral value switches a step off (temperature=1, top_k=0, top_p=1, min_p=0), as in
``generate``. ``temperature=0`` means greedy: all probability on the argmax (the first one if
several tokens tie, as ``torch.argmax`` and greedy ``generate`` pick).

Results equal transformers' TemperatureLogitsWarper / TopKLogitsWarper / TopPLogitsWarper /
MinPLogitsWarper followed by softmax, including their behaviour at edges, which is not always the
"tidy" one:
- top_k keeps every token tied with the k-th largest logit, so it can keep more than k tokens;
- top_p keeps tokens from the top until their mass reaches p; among tokens tied at the cut-off the
  order of ``torch.sort`` decides which stay;
- min_p keeps every token whose probability is at least ``min_p`` times the top probability.
Like ``generate`` (which upcasts the model's next-token logits to float32 before any warper), all
maths runs in float32, whatever the input dtype. Two deliberate differences: out-of-range settings
(checked by decoding.py's rules, the same as a ``Decoding``'s) and NaN or +inf logits raise a ``ValueError`` here (transformers accepts some, e.g. top_p=0, or
returns NaN), and a row of logits that are all ``-inf`` is refused instead of giving NaN.
"""
from __future__ import annotations

import torch

from .decoding import check_min_p, check_temperature, check_top_k, check_top_p

__all__ = ["apply_temperature", "top_k_filter", "top_p_filter", "min_p_filter", "sampling_logits",
           "sampling_probs", "kept_count", "entropy_bits", "draw", "coerce_settings"]

NEG_INF = -float("inf")


# ---- coercion at the boundary: widget values in, clean Python numbers out ----------------------
# One rule per knob, shared with ``decoding.Decoding`` (what generate and the server are asked for): the same
# values are accepted and refused, with the same messages, on the sliders and in a request.


def coerce_settings(temperature=1.0, top_k=0, top_p=1.0, min_p=0.0) -> dict:
    """Check and convert the four settings (e.g. from widgets) to ``float``/``int``, or raise ValueError.

    The rules are ``decoding``'s: the sliders accept and refuse exactly what a ``Decoding`` does.
    """
    return {"temperature": check_temperature(temperature), "top_k": check_top_k(top_k),
            "top_p": check_top_p(top_p), "min_p": check_min_p(min_p)}


def _logits(logits) -> torch.Tensor:
    """The logits as a float32 tensor (a new one unless they already were float32), checked."""
    if not isinstance(logits, torch.Tensor):
        logits = torch.as_tensor(logits)
    if not (logits.is_floating_point() and logits.ndim >= 1 and logits.shape[-1] >= 1):
        raise ValueError(f"`logits` must be a float tensor of shape (vocab_size,) or (batch, vocab_size), "
                         f"got dtype {logits.dtype} and shape {tuple(logits.shape)}")
    x = logits.float()
    if not bool(torch.isfinite(x.amax(dim=-1)).all()):  # one pass: a row's max is NaN, +inf or -inf only then
        if torch.isnan(x).any() or torch.isposinf(x).any():
            raise ValueError("`logits` contain NaN or +inf; check the model's output (a float16 overflow?)")
        raise ValueError("`logits` has a row where every entry is -inf: no token could be sampled")
    return x


# ---- the four steps ----------------------------------------------------------------------------
# Each public step checks its setting and its logits, then calls its unchecked twin (``_temperature`` ...),
# which ``sampling_logits`` chains after checking once: a slider move runs each check once, not four times.

def apply_temperature(logits, temperature) -> torch.Tensor:
    """``logits / temperature`` (TemperatureLogitsWarper); 0 keeps only the argmax (greedy)."""
    t, x = check_temperature(temperature), _logits(logits)
    return _temperature(x, t, temperature)


def _temperature(x: torch.Tensor, t: float, given) -> torch.Tensor:
    """``x / t`` for checked logits and a checked ``t``; ``given`` (the caller's own value) goes in the errors."""
    if t == 0.0:
        top = x.argmax(dim=-1, keepdim=True)  # the first of tied maxima, as greedy generate picks
        return torch.full_like(x, NEG_INF).scatter(-1, top, x.gather(-1, top))
    scaled = x / t
    top = scaled.amax(dim=-1)  # each row's largest: +inf if a logit overflowed, -inf if every one did
    if not bool(torch.isfinite(top).all()):
        if torch.isposinf(top).any():
            raise ValueError(f"`temperature` {given!r} is so small that logits / temperature overflows float32; "
                             "use temperature=0 for greedy")
        raise ValueError(f"`temperature` {given!r} pushes every logit of a row below float32's range (to -inf); "
                         "use a larger temperature, or temperature=0 for greedy")
    return scaled


def top_k_filter(logits, top_k) -> torch.Tensor:
    """Keep the ``top_k`` largest logits and every token tied with the k-th (TopKLogitsWarper)."""
    k, x = check_top_k(top_k), _logits(logits)
    return _top_k(x, k) if k else x.clone()


def _top_k(x: torch.Tensor, k: int) -> torch.Tensor:
    if k == 0:
        return x
    kth = torch.topk(x, min(k, x.shape[-1])).values[..., -1:]
    return x.masked_fill(x < kth, NEG_INF)


def top_p_filter(logits, top_p) -> torch.Tensor:
    """Keep the smallest set of most likely tokens whose probability adds up to ``top_p`` or more.

    The same steps as TopPLogitsWarper: sort ascending, drop tokens whose cumulative probability
    (from the least likely) is <= 1 - top_p, always keep the most likely token.
    """
    p, x = check_top_p(top_p), _logits(logits)
    return _top_p(x, p) if p < 1.0 else x.clone()  # generate skips top-p at 1.0


def _top_p(x: torch.Tensor, p: float) -> torch.Tensor:
    if p == 1.0:
        return x
    sorted_logits, sorted_indices = torch.sort(x, descending=False)
    cumulative_probs = sorted_logits.softmax(dim=-1).cumsum(dim=-1)
    sorted_to_remove = cumulative_probs <= (1 - p)
    sorted_to_remove[..., -1:] = False
    to_remove = sorted_to_remove.scatter(-1, sorted_indices, sorted_to_remove)
    return x.masked_fill(to_remove, NEG_INF)


def min_p_filter(logits, min_p) -> torch.Tensor:
    """Keep tokens whose probability is at least ``min_p`` x the top token's (MinPLogitsWarper)."""
    m, x = check_min_p(min_p), _logits(logits)
    return _min_p(x, m) if m > 0.0 else x.clone()


def _min_p(x: torch.Tensor, m: float) -> torch.Tensor:
    if m == 0.0:
        return x
    probs = x.softmax(dim=-1)
    to_remove = probs < m * probs.amax(dim=-1, keepdim=True)
    to_remove.scatter_(-1, probs.topk(1, dim=-1).indices, False)
    return x.masked_fill(to_remove, NEG_INF)


# ---- composed ----------------------------------------------------------------------------------

def sampling_logits(logits, temperature=1.0, top_k=0, top_p=1.0, min_p=0.0) -> torch.Tensor:
    """The logits after temperature -> top_k -> top_p -> min_p, removed tokens at -inf (float32, a new tensor)."""
    s = coerce_settings(temperature, top_k, top_p, min_p)
    x = _temperature(_logits(logits), s["temperature"], temperature)
    return _min_p(_top_p(_top_k(x, s["top_k"]), s["top_p"]), s["min_p"])


def sampling_probs(logits, temperature=1.0, top_k=0, top_p=1.0, min_p=0.0) -> torch.Tensor:
    """The probabilities ``generate(do_sample=True, ...)`` draws the next token from (float32).

    ``temperature=0`` gives a one-hot on the argmax: greedy decoding.
    """
    return sampling_logits(logits, temperature, top_k, top_p, min_p).softmax(dim=-1)


def kept_count(probs: torch.Tensor) -> torch.Tensor | int:
    """How many tokens can still be drawn (probability > 0): an int for 1-D, a tensor per row otherwise."""
    counts = (probs > 0).sum(dim=-1)
    return int(counts) if counts.ndim == 0 else counts


def entropy_bits(probs: torch.Tensor) -> torch.Tensor | float:
    """Shannon entropy in bits, -sum p log2 p (0 for a one-hot; log2(n) for n equally likely tokens)."""
    p = probs.float()
    h = -(p * torch.log2(p.clamp_min(1e-45))).where(p > 0, torch.zeros_like(p)).sum(dim=-1)
    return float(h) if h.ndim == 0 else h


def draw(probs: torch.Tensor, num_samples: int = 1, seed: int | None = None) -> torch.Tensor:
    """Token ids drawn from ``probs`` with replacement; the same ``seed`` gives the same draws.

    A seed uses a private generator on the probabilities' device (a CUDA generator draws other numbers
    than a CPU one for the same seed), seeded like ``torch.manual_seed(seed)``, so the global
    random state that ``generate`` uses is left alone; ``seed=None`` uses the global state.
    """
    generator = None if seed is None else torch.Generator(device=probs.device).manual_seed(int(seed))
    return torch.multinomial(probs.float(), num_samples, replacement=True, generator=generator)
