"""Progress while ``generate`` runs: streamers that only count new tokens, shown as a line of HTML or a tqdm bar.

transformers' ``generate(streamer=)`` calls ``put`` once with the prompt, then once per new token (for the whole
batch), then ``end``; ``Answerer.generate(..., progress=)`` (interface.py) hands any such object on, and a class
server, whose answers arrive whole, calls only ``end``. ``TokenCounter`` does the counting; ``HtmlProgress``
writes "sampling… 12 of at most 40 tokens, about 9 s left" into an ipywidgets ``HTML`` (the sampling explorer's
line, explorer.py) and ``TokenBar`` moves a tqdm bar (notebook 19's loops). The streamer that hands over text as it
comes (transformers' ``TextIteratorStreamer``) is used in local.py.
"""
from __future__ import annotations

import time


class TokenCounter:
    """A streamer that counts: ``done`` new tokens so far, ``start`` when it was made; ``on_token`` runs after each.

    The first ``put`` carries the prompt and is not counted. Subclasses show the count."""

    def __init__(self, max_new_tokens: int):
        self.max_new_tokens, self.done, self.prompt_seen, self.start = max_new_tokens, 0, False, time.perf_counter()

    def put(self, value) -> None:
        if not self.prompt_seen:
            self.prompt_seen = True  # the first call carries the prompt
            return
        self.done += 1
        self.on_token()

    def on_token(self) -> None:
        """Show the count (nothing here)."""

    def end(self) -> None:
        """The answers are complete (nothing here)."""

    def seconds_left(self) -> float:
        """The time the rest of ``max_new_tokens`` would take at the mean pace so far (after at least one token)."""
        return (time.perf_counter() - self.start) / self.done * (self.max_new_tokens - self.done)


class HtmlProgress(TokenCounter):
    """"sampling… 12 of at most 40 tokens, about 9 s left" in ``html`` (an ipywidgets ``HTML``) while generate runs;
    the caller replaces the line with the answers."""

    def __init__(self, html, max_new_tokens: int):
        super().__init__(max_new_tokens)
        self.html = html

    def on_token(self) -> None:
        self.html.value = (f"<i>sampling… {self.done} of at most {self.max_new_tokens} tokens, "
                           f"about {self.seconds_left():.0f} s left</i>")


class TokenBar(TokenCounter):
    """A tqdm bar of the new tokens (for the whole batch), closed by ``end``; a class server calls only ``end``."""

    def __init__(self, max_new_tokens: int, desc: str = "tokens"):
        from tqdm.auto import tqdm

        super().__init__(max_new_tokens)
        self.bar = tqdm(total=max_new_tokens, desc=desc, leave=False)

    def on_token(self) -> None:
        self.bar.update(1)

    def end(self) -> None:
        self.bar.close()
