"""Reading what transformers logs: collect its messages inside a block instead of printing them.

transformers reports some problems (a batch without an attention mask, right padding) through its logger,
not through Python's ``warnings``, so ``warnings.catch_warnings`` does not see them. Notebook 05 uses
``transformers_log`` to show those messages next to the call that caused them. Nothing is silenced for
good: the logger's own handlers are back when the block ends.
"""
from __future__ import annotations

import contextlib
import logging


@contextlib.contextmanager
def transformers_log():
    """Inside the block, collect transformers' log messages (a list of str) instead of printing them."""
    logger = logging.getLogger("transformers")
    messages: list[str] = []
    collect = logging.Handler()
    collect.emit = lambda record: messages.append(record.getMessage())
    handlers, logger.handlers = logger.handlers[:], [collect]
    try:
        yield messages
    finally:
        logger.handlers = handlers
