"""Checks for notebook 00 (start here): how checks work, and offline vs online checkpoints."""
from __future__ import annotations

import os
from pathlib import Path

from . import CheckResult, as_number, failed, not_answered, passed

LAST_NOTEBOOK = 19  # the course map in notebook 00 lists 01 to 19 (a test counts notebooks/)


def check_first_exercise(answer) -> CheckResult:
    """The warm-up: how many notebooks follow this one (01 to 19)?"""
    answer = as_number(answer, "`answer`", "3", whole=True)
    if isinstance(answer, CheckResult):
        return answer
    if answer == LAST_NOTEBOOK + 1:
        return failed(f"{answer} counts this notebook too: how many come *after* 00?")
    if answer != LAST_NOTEBOOK:
        return failed(f"{answer} is not it: look at the course map below and count the notebooks "
                      f"01 to {LAST_NOTEBOOK:02d}.")
    return passed(f"Right: {LAST_NOTEBOOK} notebooks follow, 01 to {LAST_NOTEBOOK:02d}. "
                  "That is how every check in the course works.")


def check_offline_checkpoint(checkpoint) -> CheckResult:
    """Which value makes ``AutoModelForCausalLM.from_pretrained(checkpoint)`` load the embedded model with no
    network at all? Only the prepared folder (``default_checkpoint()``): from_pretrained knows no short names
    and no None, and a hub id needs the hub (or a copy already in the local hub cache)."""
    from ..models import default_checkpoint
    if checkpoint is ...:
        return not_answered("`my_checkpoint`", "a checkpoint value")
    if checkpoint is None:
        return failed("None is what the course's own load() takes for the embedded model, but "
                      "from_pretrained(None) is an error: it needs a folder or a hub id. Which value is a folder?")
    if not isinstance(checkpoint, (str, os.PathLike)):
        return failed(f"A checkpoint is a string (a hub id or a folder path), got {checkpoint!r} "
                      f"({type(checkpoint).__name__}).")
    folder = Path(default_checkpoint())
    if Path(checkpoint).expanduser().resolve() == folder.resolve():
        return passed(f"Right: the prepared folder {folder} holds config, weights and tokenizer, so "
                      "from_pretrained reads it from disk and never asks the hub.")
    text = str(checkpoint)
    if text == "smollm2":
        return failed("'smollm2' is the course's short name: deepcoder_lib's load() understands it, but "
                      "from_pretrained would look for a hub repository called 'smollm2'. Which value is a folder?")
    if "/" in text and not text.startswith(("/", ".", "~")) and not Path(text).exists():
        return failed(f"{text!r} is a hub id: from_pretrained downloads it from the hub, "
                      "so it needs the network unless you downloaded it before. It is also not the embedded copy. "
                      "Which value is the local folder printed above?")
    return failed(f"{text!r} is not the prepared folder ({folder}); print default_checkpoint() and compare.")
