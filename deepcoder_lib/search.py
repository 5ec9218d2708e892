"""Decoding as search: how likely the model finds a whole answer, and how decoding strategies look for one.

A sequence's log-probability is the sum of its tokens' log-probabilities, each conditioned on
everything before it. ``sequence_logprob`` computes it by hand with one forward pass;
``scores_from_generate`` reads the same numbers from ``generate``'s own scores with transformers'
``compute_transition_scores``. Greedy decoding takes the best token at each step, which is not the
same as the best sequence: ``greedy_vs_beam`` shows beam search finding an answer the model rates
as more likely. ``repetition_penalty`` and ``no_repeat_ngram`` are the two anti-repetition transforms,
written out (pure functions on one distribution's logits, never in place). ``sampling.py`` holds the
sampling transforms (temperature, top-k, top-p, min-p); ``loss.py`` the same log-probabilities seen
as a training loss.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from .checks import positive_int, whole_number
from .decoding import Decoding, check_repetition_penalty
from .inputs import eos_ids, input_device, per_token_logprobs, prepare_inputs, require_model
from .local import generate_kwargs, prompt_for


def _as_row(ids, name: str) -> torch.Tensor:
    ids = torch.as_tensor(ids, dtype=torch.long)
    if ids.dim() == 2 and ids.shape[0] == 1:
        ids = ids[0]
    if ids.dim() != 1 or ids.numel() == 0:
        raise ValueError(f"`{name}` must be one non-empty sequence of ids (shape (n,) or (1, n)), "
                         f"got shape {tuple(ids.shape)}; pass one row, e.g. out.sequences[0]")
    return ids


def _until_eos(output_ids: torch.Tensor, eos_token_id) -> torch.Tensor:
    stops = eos_ids(eos_token_id)  # None, one id, or a list (Qwen2-Instruct has two)
    if not stops:
        return output_ids
    ends = torch.isin(output_ids, torch.tensor(stops, device=output_ids.device)).nonzero()
    return output_ids[: int(ends[0]) + 1] if len(ends) else output_ids  # keep the eos: the model chose it


@torch.inference_mode()
def token_logprobs(model, input_ids, output_ids, *, eos_token_id=None) -> torch.Tensor:
    """log p(each output token | the input and the output tokens before it), by one forward pass (on the CPU).

    ``input_ids`` is the prompt, ``output_ids`` only the new tokens. With ``eos_token_id`` the tokens after
    the first end-of-sequence (padding of a beam that finished early) are dropped.
    """
    require_model(model, what="token_logprobs")
    input_ids, output_ids = _as_row(input_ids, "input_ids"), _as_row(output_ids, "output_ids")
    output_ids = _until_eos(output_ids, eos_token_id)
    ids = torch.cat([input_ids, output_ids]).to(input_device(model))[None]
    picked = per_token_logprobs(model(input_ids=ids).logits, ids)[0]  # position t scores token t+1
    return picked[len(input_ids) - 1:].cpu()


def sequence_logprob(model, input_ids, output_ids, *, eos_token_id=None) -> float:
    """log p(output | input) = the sum of the output tokens' log-probabilities (see ``token_logprobs``)."""
    return float(token_logprobs(model, input_ids, output_ids, eos_token_id=eos_token_id).sum())


def scores_from_generate(model, out, *, normalize_logits: bool | None = None) -> torch.Tensor:
    """Per-token log-probabilities of ``generate``'s answers, shape (n_answers, n_new), from its own scores.

    ``out`` is what ``generate(..., output_scores=True, return_dict_in_generate=True)`` returned. Wraps
    ``model.compute_transition_scores``: for beam search with ``out.beam_indices`` (its scores are already
    log-probabilities, so they are not normalized again by default), otherwise with ``normalize_logits=True``
    (greedy and sampling keep the processed logits). Steps after a beam finished score 0.
    Sampling warpers (temperature, top_k, top_p) change the scores: these are then the log-probabilities of
    the distribution sampled from, not the model's own.
    """
    if getattr(out, "scores", None) is None:
        raise ValueError("`out` has no scores; call generate(..., output_scores=True, return_dict_in_generate=True)")
    beam_indices = getattr(out, "beam_indices", None)
    if normalize_logits is None:
        normalize_logits = beam_indices is None
    scores = model.compute_transition_scores(out.sequences, out.scores, beam_indices,
                                             normalize_logits=normalize_logits)
    return scores.float().cpu()


@dataclass
class Answer:
    """One decoded answer: its new ids, text and log-probability under the model (by a forward pass)."""
    strategy: str
    output_ids: torch.Tensor
    text: str
    logprob: float


@torch.inference_mode()
def greedy_vs_beam(model, tokenizer, request, *, max_new_tokens: int = 24, num_beams: int = 4) -> tuple[Answer, Answer]:
    """Greedy's and beam search's answers to ``request`` (a chat), each scored with ``sequence_logprob``.

    Both decode with no repetition penalty, whatever the checkpoint's generation_config says. Beam search
    runs with ``length_penalty=0`` so that it ranks answers by their plain log-probability, the
    same quantity greedy approximates one token at a time. When beam's ``logprob`` is higher, greedy did not
    find the most likely answer.
    """
    whole_number(num_beams, "num_beams", minimum=2, hint="1 beam is greedy")
    require_model(model, what="greedy_vs_beam")
    inputs = prepare_inputs(tokenizer, prompt_for(tokenizer, request), model=model, name="request")
    eos = model.generation_config.eos_token_id
    # the course's one way to build generate()'s arguments: greedy, the checkpoint's own decoding knobs (a repetition
    # penalty, sampling) put back to neutral, the pad id, the length checked against the context
    greedy = generate_kwargs(model, inputs, Decoding(max_new_tokens=max_new_tokens).generate_kwargs())
    runs = {"greedy": model.generate(**inputs, **greedy),
            "beam": model.generate(**inputs, **{**greedy, "num_beams": num_beams, "length_penalty": 0.0})}
    prompt = inputs["input_ids"][0]
    answers = []
    for strategy, sequences in runs.items():
        output_ids = _until_eos(sequences[0, len(prompt):].cpu(), eos)
        answers.append(Answer(strategy, output_ids, tokenizer.decode(output_ids, skip_special_tokens=True),
                              sequence_logprob(model, prompt, output_ids)))
    return answers[0], answers[1]


def _check_logits(logits) -> torch.Tensor:
    if not isinstance(logits, torch.Tensor) or logits.dim() != 1:
        raise ValueError("`logits` must be a 1-D tensor (one next-token distribution), got "
                         f"{getattr(logits, 'shape', type(logits).__name__)}; take e.g. out.logits[0, -1]")
    return logits


def repetition_penalty(logits: torch.Tensor, seen_ids, penalty: float) -> torch.Tensor:
    """New logits in which every token already in ``seen_ids`` (prompt included) is made less likely.

    A positive logit is divided by ``penalty``, a negative one multiplied by it (so both move down for
    penalty > 1), once per token however often it was seen: transformers' RepetitionPenaltyLogitsProcessor.
    """
    logits = _check_logits(logits)
    penalty = check_repetition_penalty(penalty, "penalty")
    seen = torch.unique(torch.as_tensor(seen_ids, dtype=torch.long).flatten()).to(logits.device)
    out = logits.clone()
    old = out[seen]
    out[seen] = torch.where(old < 0, old * penalty, old / penalty)
    return out


def no_repeat_ngram(logits: torch.Tensor, seen_ids, n: int) -> torch.Tensor:
    """New logits with -inf for every token that would complete an ``n``-gram already in ``seen_ids``.

    The last n-1 ids are the n-gram's start; each earlier place where they occurred bans the id that
    followed it there (transformers' NoRepeatNGramLogitsProcessor, ``no_repeat_ngram_size``).
    """
    logits = _check_logits(logits)
    positive_int(n, "n", "it is the n-gram size; 0 in generate switches it off")
    ids = [int(i) for i in torch.as_tensor(seen_ids).flatten()]
    out = logits.clone()
    if len(ids) < n:
        return out  # no complete n-gram yet (transformers bans nothing either)
    start = tuple(ids[len(ids) - n + 1:])
    banned = {ids[i + n - 1] for i in range(len(ids) - n + 1) if tuple(ids[i:i + n - 1]) == start}
    out[sorted(banned)] = float("-inf")
    return out
