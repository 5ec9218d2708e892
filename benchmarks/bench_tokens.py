"""What tokenizing costs in notebook 01: building Qwen2's tokenizer once, loading the three
tokenizers, encoding a real file, and one playground keystroke (re-tokenize + re-render HTML).
Prints a table; ``main()`` returns its rows.

    .venv/bin/python benchmarks/bench_tokens.py      # about a minute on 2 cores
"""
from __future__ import annotations

import os
import statistics
import tempfile
import time
import timeit
from pathlib import Path


def _median_ms(fn, runs: int) -> float:
    return 1000 * statistics.median(timeit.repeat(fn, number=1, repeat=runs))


def main() -> list[dict]:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    start = time.perf_counter()
    import torch  # noqa: F401  (timed: every notebook pays it once; AutoTokenizer's config import pulls it in)
    import transformers  # noqa: F401
    rows = [{"what": "import torch + transformers", "ms": 1000 * (time.perf_counter() - start), "runs": 1}]

    from deepcoder_lib import playground, tokens

    with tempfile.TemporaryDirectory() as tmp:  # a cold cache: Qwen2's folder does not exist yet
        os.environ["DEEPCODER_CACHE"] = tmp
        rows.append({"what": "build Qwen2 tokenizer folder (once per machine)",
                     "ms": _median_ms(lambda: tokens.build_qwen2(Path(tmp) / "q"), 1), "runs": 1})
        del os.environ["DEEPCODER_CACHE"]
    for name in tokens.TOKENIZER_NAMES:
        tokens.prepare_qwen2()  # make sure the real cache is built, so the load below is a warm load
        tokens._load_tokenizer.cache_clear()  # time a real load, not the cache
        rows.append({"what": f"load_tokenizer({name!r}), warm cache",
                     "ms": _median_ms(lambda: tokens.load_tokenizer(name), 1), "runs": 1})
    chosen = tokens.load_tokenizers()
    source = Path(tokens.__file__).read_text()
    for name, tokenizer in chosen.items():
        n = len(tokenizer(source)["input_ids"])
        ms = _median_ms(lambda: tokenizer(source), 20)
        rows.append({"what": f"encode tokens.py ({len(source):,} chars, {n:,} tokens), {name}", "ms": ms, "runs": 20})
    for label, text in (("100 chars", playground.DEFAULT_TEXT[:100]), ("2,000 chars", source[:2000])):
        pg = playground.make_playground(chosen, text=text)
        flip = iter(range(10**6))
        rows.append({"what": f"playground keystroke, 3 tokenizers, {label}",
                     "ms": _median_ms(lambda: setattr(pg.text, "value", text + "x" * (next(flip) % 2)), 20),
                     "runs": 20})
    return rows


if __name__ == "__main__":
    results = main()
    width = max(len(r["what"]) for r in results)
    print(f"{'what':{width}}  {'median ms':>10}  runs")
    for r in results:
        print(f"{r['what']:{width}}  {r['ms']:10.1f}  {r['runs']:>4}")
