"""Checks for notebook 00 (start here): how checks work, and offline vs online checkpoints."""
from __future__ import annotations

from . import CheckResult, failed, passed


def check_first_exercise(answer) -> CheckResult:
    """The warm-up: how many notebooks follow this one (01 to 06)?"""
    if answer is None or answer == ...:
        return failed("Replace `...` with a number, then run the cell again.")
    if not isinstance(answer, int) or isinstance(answer, bool):
        return failed(f"Expected a whole number, got {answer!r} ({type(answer).__name__}).")
    if answer == 7:
        return failed("7 counts this notebook too: how many come *after* 00?")
    if answer != 6:
        return failed(f"{answer} is not it: look at the course map above and count the notebooks 01 to 06.")
    return passed("Right: six notebooks follow, 01 to 06. That is how every check in the course works.")


def check_offline_checkpoint(checkpoint) -> CheckResult:
    """Which `checkpoint` value loads the embedded model with no network at all?"""
    from ..models import default_checkpoint
    if checkpoint == ...:
        return failed("Replace `...` with a checkpoint value, then run the cell again.")
    if checkpoint is None or checkpoint == default_checkpoint():
        return passed("Right: None (or the prepared folder's path) is the embedded model; it never needs the hub.")
    if isinstance(checkpoint, str) and "/" in checkpoint and not checkpoint.startswith(("/", ".")):
        return failed(f"{checkpoint!r} is a hub id: it needs a download (or your local hub cache). "
                      "Which value means 'the embedded default'?")
    return failed(f"{checkpoint!r} is neither None nor the prepared folder; read the cell above again.")
