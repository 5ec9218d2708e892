"""One decoding settings object: checked once, written as ``generate()`` keyword arguments or a server request.

``Decoding`` holds what decides which token comes next: ``temperature`` (0 means greedy), ``top_k`` (0: off),
``top_p`` (1: off), ``min_p`` (0: off), ``repetition_penalty`` (1: off), plus ``max_new_tokens``, ``seed`` and
``stop``. Every knob is stated on both sides, so greedy means the same decoder locally and on a server:
``generate_kwargs()`` for ``model.generate`` and ``request_body()`` for an OpenAI-compatible chat request, whose
non-OpenAI knobs (``top_k``, ``min_p``, the repetition penalty) go in ``extra_body``. Left out, llama.cpp's
server applies its own defaults (repeat penalty 1.1, top_k 40, min_p 0.05), even to greedy. No torch here.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace

from .checks import number, positive_int, positive_number, whole_number

# generate()-style keyword arguments that ``from_generate_kwargs`` understands; anything else is an error naming it
GENERATE_NAMES = ("do_sample", "max_new_tokens", "temperature", "top_p", "top_k", "min_p", "repetition_penalty",
                  "seed", "stop_strings", "stop", "pad_token_id")


# ---- one rule per knob: ``Decoding``, the sampling maths (sampling.py), the sliders and the command line use these
# (``name`` is how the caller spells the argument, e.g. "--top-p" on the command line)

def check_temperature(value, name: str = "temperature") -> float:
    """A finite number >= 0 as a float (0 means greedy)."""
    hint = "use 1.0 to leave the logits unchanged, below 1 to sharpen, above 1 to flatten, 0 for greedy"
    t = number(value, name, hint)
    if not 0.0 <= t < math.inf:
        raise ValueError(f"`{name}` must be a finite number >= 0, got {value!r}; {hint}")
    return t


def check_top_k(value, name: str = "top_k") -> int:
    """A whole number >= 0 as an int (0 switches top-k off); 3.0 from a slider is 3."""
    hint = "use 0 to switch top-k off"
    k = number(value, name, hint)
    return whole_number(int(k) if k.is_integer() else value, name, minimum=0, hint=hint)


def check_top_p(value, name: str = "top_p") -> float:
    """A number in (0, 1] as a float (1 switches top-p off)."""
    hint = "use 1.0 to switch top-p off"
    p = number(value, name, hint)
    if not 0.0 < p <= 1.0:
        extra = f" ({name}=0 would keep nothing; for greedy use temperature=0 or top_k=1)" if p == 0 else ""
        raise ValueError(f"`{name}` must be in (0, 1], got {value!r}; {hint}{extra}")
    return p


def check_min_p(value, name: str = "min_p") -> float:
    """A number in [0, 1] as a float (0 switches min-p off)."""
    hint = "use 0.0 to switch min-p off"
    m = number(value, name, hint)
    if not 0.0 <= m <= 1.0:
        raise ValueError(f"`{name}` must be in [0, 1], got {value!r}; {hint}")
    return m


def check_repetition_penalty(value, name: str = "repetition_penalty") -> float:
    """A finite number > 0 as a float (1 switches the penalty off)."""
    return positive_number(value, name, "use 1.0 to switch it off; 1.1-1.2 is typical")


@dataclass(frozen=True)
class Decoding:
    """How to pick each next token, checked when built; ``Decoding()`` is the course's greedy, 96 new tokens."""

    max_new_tokens: int = 96
    temperature: float = 0.0   # 0 = greedy; < 1 sharper, > 1 flatter
    top_p: float = 1.0         # 1 = off; Codex and BigCode sample with 0.95
    top_k: int = 0             # 0 = off
    min_p: float = 0.0         # 0 = off
    repetition_penalty: float = 1.0  # 1 = off; llama.cpp's server would use 1.1 unless told
    seed: int | None = None
    stop: tuple[str, ...] = ()

    def __post_init__(self):
        set_ = lambda name, value: object.__setattr__(self, name, value)  # noqa: E731  (frozen dataclass)
        set_("max_new_tokens", positive_int(self.max_new_tokens, "max_new_tokens",
                                            "it counts only the new tokens (48-96 is plenty for a short function)"))
        temperature, top_p = check_temperature(self.temperature), check_top_p(self.top_p)
        min_p, penalty = check_min_p(self.min_p), check_repetition_penalty(self.repetition_penalty)
        set_("top_k", check_top_k(self.top_k))
        if self.seed is not None:
            set_("seed", whole_number(self.seed, "seed", minimum=0, hint="any whole number, e.g. 0"))
        stop = (self.stop,) if isinstance(self.stop, str) else tuple(self.stop or ())
        if not all(isinstance(s, str) and s for s in stop):
            raise ValueError(f"`stop` must be a string or a list of non-empty strings, got {self.stop!r}")
        for name, value in (("temperature", temperature), ("top_p", top_p), ("min_p", min_p),
                            ("repetition_penalty", penalty), ("stop", stop)):
            set_(name, value)

    @property
    def greedy(self) -> bool:
        return self.temperature == 0

    def with_(self, **changes) -> "Decoding":
        """A copy with ``changes``, checked again."""
        return replace(self, **changes)

    @classmethod
    def from_generate_kwargs(cls, **kwargs) -> "Decoding":
        """``generate``-style keyword arguments as a ``Decoding``: ``do_sample=False`` (or absent with no temperature)
        means greedy, ``do_sample=True`` without a temperature samples at 1.0 (as ``generate`` does),
        ``stop_strings`` is ``stop``. Anything else (``num_beams``, ...) is an error naming it."""
        unknown = sorted(set(kwargs) - set(GENERATE_NAMES))
        if unknown:
            raise ValueError(f"{unknown} cannot be set here; the course's decoding takes {list(GENERATE_NAMES)}; "
                             "call model.generate yourself for the others")
        kwargs.pop("pad_token_id", None)  # a padding detail, not a decoding choice
        do_sample = kwargs.pop("do_sample", None)
        if "stop_strings" in kwargs:
            kwargs["stop"] = kwargs.pop("stop_strings")
        if do_sample is False:
            kwargs["temperature"] = 0.0
        elif do_sample and "temperature" not in kwargs:
            kwargs["temperature"] = 1.0
        return cls(**{k: v for k, v in kwargs.items() if v is not None})

    def generate_kwargs(self) -> dict:
        """Keyword arguments for ``model.generate``: greedy is ``do_sample=False``; sampling states every filter."""
        kwargs = {"max_new_tokens": self.max_new_tokens, "repetition_penalty": self.repetition_penalty}
        if self.greedy:
            kwargs["do_sample"] = False
        else:
            kwargs.update(do_sample=True, temperature=self.temperature, top_k=self.top_k, top_p=self.top_p,
                          min_p=self.min_p or None)
        if self.stop:
            kwargs["stop_strings"] = list(self.stop)  # generate then needs tokenizer=
        return kwargs

    def request_body(self) -> dict:
        """The chat-completion settings for an OpenAI-compatible server, with every knob stated.

        ``extra_body`` holds what OpenAI's API lacks: ``top_k`` (0: off), ``min_p`` and the repetition penalty,
        under both its names (llama.cpp: ``repeat_penalty``; vLLM and SGLang: ``repetition_penalty``; each
        server ignores the name it does not know).
        """
        body = {"max_tokens": self.max_new_tokens, "temperature": self.temperature,
                "top_p": 1.0 if self.greedy else self.top_p,
                "extra_body": {"top_k": 0 if self.greedy else self.top_k, "min_p": 0.0 if self.greedy else self.min_p,
                               "repeat_penalty": self.repetition_penalty,
                               "repetition_penalty": self.repetition_penalty}}
        if self.seed is not None:
            body["seed"] = self.seed
        if self.stop:
            body["stop"] = list(self.stop)
        return body

    def as_dict(self) -> dict:
        """Every knob by name, for the record of a run (a JSON file beside its results)."""
        return {f.name: (list(getattr(self, f.name)) if f.name == "stop" else getattr(self, f.name))
                for f in fields(self)}


def settings(decoding: Decoding | None, given: dict) -> Decoding:
    """``decoding``, or a ``Decoding`` built from keyword settings (``max_new_tokens=48, temperature=0.8``)."""
    if decoding is not None and given:
        raise ValueError(f"give either `decoding` or keyword settings, got both (decoding={decoding!r}, {given})")
    if decoding is not None and not isinstance(decoding, Decoding):
        raise ValueError(f"`decoding` must be a Decoding, got {decoding!r}; e.g. Decoding(max_new_tokens=48)")
    return decoding if decoding is not None else Decoding(**given)
