"""Greedy decoding speed of the embedded model: plain fp32 vs the course's default setting.

Prints one row per setting: time to first token (prefill + 1 token), decode tokens/s after the
first token, the process's peak RSS, and whether the answer passes the circle-area check
(the extracted code, run in a separate sandboxed process, defines a function f with
f(2.0) == pi * 4). Each dtype runs in its own subprocess so peak RSS belongs to that dtype.

    .venv/bin/python benchmarks/bench_generation.py

Settings: "fp32" is what from_pretrained(checkpoint) + generate(do_sample=False) gives;
"default" is the course default: dtype=torch.bfloat16 (as the source material loads models)
plus generation.DEFAULT_GENERATION (greedy + prompt-lookup decoding, exact for greedy).
The other rows show what each knob adds alone. torch.compile (+ static cache) is left out:
compiling took ~46 s on this machine, longer than the whole notebook budget.
"""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
REQUEST = "Write a Python function that computes the area of a circle given its radius."
MAX_NEW_TOKENS = 128
REPEATS = 2
SETTINGS = {  # name: (dtype, extra generate kwargs)
    "fp32": ("float32", {}),
    "fp32 + prompt lookup": ("float32", {"prompt_lookup_num_tokens": 10}),
    "bf16": ("bfloat16", {}),
    "default (bf16 + prompt lookup)": ("bfloat16", {"prompt_lookup_num_tokens": 10}),
}
CIRCLE_TEST = """
import inspect, math
_fns = [v for k, v in list(globals().items()) if inspect.isfunction(v) and not k.startswith("_")]
assert _fns, "the answer defines no function"
_got = _fns[-1](2.0)
assert abs(_got - math.pi * 4) < 1e-6, f"f(2.0) = {_got}, expected {math.pi * 4}"
print("ok")
"""


def circle_area_ok(answer: str) -> tuple[bool, str]:
    """Run the answer's code plus CIRCLE_TEST in a separate sandboxed process, never in this one."""
    from deepcoder_lib.sandbox import extract_code, run_code
    try:
        code = extract_code(answer)
    except ValueError as exc:
        return False, str(exc)
    result = run_code(code + "\n" + CIRCLE_TEST, timeout=10)
    return result.ok and "ok" in result.stdout, result.verdict


def _measure(dtype: str, names: list[str]) -> list[dict]:
    """In this process: load once in ``dtype``, time each setting that uses it."""
    import resource

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from deepcoder_lib.generation import DEFAULT_GENERATION, RECOMMENDED_THREADS
    from deepcoder_lib.models import default_checkpoint

    torch.set_num_threads(RECOMMENDED_THREADS)
    checkpoint = default_checkpoint()
    start = time.perf_counter()
    tokenizer = AutoTokenizer.from_pretrained(checkpoint)
    model = AutoModelForCausalLM.from_pretrained(checkpoint, dtype=getattr(torch, dtype))
    load_s = time.perf_counter() - start
    messages = [{"role": "user", "content": REQUEST}]
    inputs = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt",
                                           return_dict=True)
    n_prompt = inputs["input_ids"].shape[1]
    rows = []
    for name in names:
        extra = SETTINGS[name][1]
        kwargs = {"do_sample": False, **extra}
        with torch.inference_mode():
            model.generate(**inputs, max_new_tokens=4, **kwargs)  # warm-up
            ttft, totals = [], []
            for _ in range(REPEATS):
                t = time.perf_counter()
                model.generate(**inputs, max_new_tokens=1, **kwargs)
                ttft.append(time.perf_counter() - t)
                t = time.perf_counter()
                out = model.generate(**inputs, max_new_tokens=MAX_NEW_TOKENS, **kwargs)
                totals.append(time.perf_counter() - t)
        n_new = out.shape[1] - n_prompt
        answer = tokenizer.decode(out[0, n_prompt:], skip_special_tokens=True)
        first, total = statistics.median(ttft), statistics.median(totals)
        ok, verdict = circle_area_ok(answer)
        rows.append({"setting": name, "dtype": dtype, "new_tokens": n_new, "ttft_ms": 1000 * first,
                     "decode_tok_s": (n_new - 1) / max(total - first, 1e-9), "total_s": total,
                     "load_s": load_s, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                     "circle_ok": ok, "check": verdict, "answer": answer,
                     "default_kwargs": DEFAULT_GENERATION})
    return rows


def main() -> list[dict]:
    """Run every setting (one subprocess per dtype) and return the rows; adds speedup vs fp32."""
    rows = []
    for dtype in ("float32", "bfloat16"):
        names = [n for n, (d, _) in SETTINGS.items() if d == dtype]
        proc = subprocess.run([sys.executable, __file__, "--child", dtype, *names], capture_output=True,
                              text=True, check=True)
        rows += json.loads(proc.stdout.strip().splitlines()[-1])
    base = next(r["decode_tok_s"] for r in rows if r["setting"] == "fp32")
    for r in rows:
        r["speedup"] = r["decode_tok_s"] / base
    return rows


def _print(rows: list[dict]) -> None:
    print(f"{'setting':32} {'TTFT ms':>8} {'decode tok/s':>13} {'x fp32':>7} {'tokens':>7} {'peak RSS MB':>12}"
          f" {'load s':>7}  circle check")
    for r in rows:
        print(f"{r['setting']:32} {r['ttft_ms']:8.0f} {r['decode_tok_s']:13.1f} {r['speedup']:7.2f} "
              f"{r['new_tokens']:7d} {r['peak_rss_mb']:12.0f} {r['load_s']:7.2f}  "
              f"{'pass' if r['circle_ok'] else 'FAIL'} ({r['check']})")
    same = {r["answer"] for r in rows if r["dtype"] == "float32"}, {r["answer"] for r in rows if r["dtype"] == "bfloat16"}
    print(f"prompt lookup changed the answer: fp32 {len(same[0]) > 1}, bf16 {len(same[1]) > 1}")


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        print(json.dumps(_measure(sys.argv[2], sys.argv[3:])))
    else:
        start = time.perf_counter()
        table = main()
        _print(table)
        print(f"({MAX_NEW_TOKENS} new tokens max, median of {REPEATS}, {time.perf_counter() - start:.0f} s in all)")
