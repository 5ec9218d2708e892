"""Greedy decoding speed of the embedded model: plain fp32 vs the course's default setting.

Prints one row per setting: time to first token (prefill + 1 token), decode tokens/s after the
first token, the model's resident memory and the run's peak RSS, and whether the answer passes
the circle-area check (the extracted code, run in a separate sandboxed process, defines a
function f with f(2.0) == pi * 4).

    .venv/bin/python benchmarks/bench_generation.py

Settings: "fp32" is what from_pretrained(checkpoint) + generate(do_sample=False) gives;
"default" is the course default: dtype=torch.bfloat16 (as the source material loads models)
plus generation.DEFAULT_GENERATION (greedy). Prompt lookup is exact for greedy but measured slower here.
The other rows show what each knob adds alone. The last row is llama.cpp (llama-cpp-python, in this process) on
the embedded model's own Q4_1 GGUF file, the file the class server of notebook 16 serves: the same prompt text
(the chat template's), greedy (temperature 0), the same number of threads. Settings are interleaved, repeat by
repeat, so that a shared machine's changing load hits them alike. torch.compile (+ static cache) is left
out: compiling took ~46 s on this machine, longer than a whole notebook's budget.

Writes ``benchmarks/generation_speed.json`` (date, machine, load averages, versions, the rows), which notebook 10
cites for llama.cpp's speed against transformers'.
"""
from __future__ import annotations

import os
import resource
import statistics
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
REQUEST = "Write a Python function that computes the area of a circle given its radius."
MAX_NEW_TOKENS = 128
REPEATS = 3
SETTINGS = {  # name: (dtype, extra generate kwargs)
    "fp32": ("float32", {}),
    "fp32 + prompt lookup": ("float32", {"prompt_lookup_num_tokens": 10}),
    "default (bf16, greedy)": ("bfloat16", {}),
    "bf16 + prompt lookup": ("bfloat16", {"prompt_lookup_num_tokens": 10}),
}
LLAMA = "llama.cpp, same GGUF (Q4_1)"  # the last row: dtype "q4_1", the GGUF file's own
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


class LlamaCpp:
    """llama.cpp on the embedded GGUF, greedy, ``threads`` threads: ``generate(prompt_text, n)`` -> (text, new tokens)."""

    def __init__(self, threads: int):
        from llama_cpp import Llama

        from deepcoder_lib.prepare import find_gguf
        self.llm = Llama(model_path=str(find_gguf()), n_ctx=1024, n_threads=threads, verbose=False)

    def generate(self, prompt: str, max_tokens: int) -> tuple[str, int]:
        out = self.llm.create_completion(prompt, max_tokens=max_tokens, temperature=0.0, top_k=0, top_p=1.0,
                                         min_p=0.0, repeat_penalty=1.0, seed=0)
        return out["choices"][0]["text"], out["usage"]["completion_tokens"]


def _rss_mb() -> float:
    import psutil
    return psutil.Process().memory_info().rss / 2 ** 20


def main() -> list[dict]:
    """Load fp32 and bf16 once each, time every setting (interleaved), return one row per setting."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from deepcoder_lib.generation import RECOMMENDED_THREADS
    from deepcoder_lib.models import default_checkpoint

    torch.set_num_threads(RECOMMENDED_THREADS)
    checkpoint = default_checkpoint()
    tokenizer = AutoTokenizer.from_pretrained(checkpoint)
    models, model_mb, load_s = {}, {}, {}
    for dtype in ("float32", "bfloat16"):
        before, start = _rss_mb(), time.perf_counter()
        models[dtype] = AutoModelForCausalLM.from_pretrained(checkpoint, dtype=getattr(torch, dtype))
        load_s[dtype], model_mb[dtype] = time.perf_counter() - start, _rss_mb() - before
    inputs = tokenizer.apply_chat_template([{"role": "user", "content": REQUEST}], add_generation_prompt=True,
                                           return_tensors="pt", return_dict=True)
    n_prompt = inputs["input_ids"].shape[1]
    prompt_text = tokenizer.apply_chat_template([{"role": "user", "content": REQUEST}], add_generation_prompt=True,
                                                tokenize=False)
    before, start = _rss_mb(), time.perf_counter()
    llama = LlamaCpp(RECOMMENDED_THREADS)
    load_s["q4_1"], model_mb["q4_1"] = time.perf_counter() - start, _rss_mb() - before
    llama.generate(prompt_text, 4)  # warm-up
    ttft = {name: [] for name in (*SETTINGS, LLAMA)}
    totals = {name: [] for name in (*SETTINGS, LLAMA)}
    outputs = {}
    with torch.inference_mode():
        for name, (dtype, extra) in SETTINGS.items():  # warm-up
            models[dtype].generate(**inputs, max_new_tokens=4, do_sample=False, **extra)
        for _ in range(REPEATS):
            for name, (dtype, extra) in SETTINGS.items():
                t = time.perf_counter()
                models[dtype].generate(**inputs, max_new_tokens=1, do_sample=False, **extra)
                ttft[name].append(time.perf_counter() - t)
                t = time.perf_counter()
                outputs[name] = models[dtype].generate(**inputs, max_new_tokens=MAX_NEW_TOKENS, do_sample=False,
                                                       **extra)
                totals[name].append(time.perf_counter() - t)
            t = time.perf_counter()
            llama.generate(prompt_text, 1)
            ttft[LLAMA].append(time.perf_counter() - t)
            t = time.perf_counter()
            llama_answer, llama_new = llama.generate(prompt_text, MAX_NEW_TOKENS)
            totals[LLAMA].append(time.perf_counter() - t)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    answers = {name: (tokenizer.decode(outputs[name][0, n_prompt:], skip_special_tokens=True),
                      outputs[name].shape[1] - n_prompt, dtype) for name, (dtype, _) in SETTINGS.items()}
    answers[LLAMA] = (llama_answer, llama_new, "q4_1")
    rows = []
    for name, (answer, n_new, dtype) in answers.items():
        first, total = statistics.median(ttft[name]), statistics.median(totals[name])
        ok, verdict = circle_area_ok(answer)
        rows.append({"setting": name, "dtype": dtype, "new_tokens": n_new, "ttft_ms": 1000 * first,
                     "decode_tok_s": (n_new - 1) / max(total - first, 1e-9), "total_s": total,
                     "model_rss_mb": model_mb[dtype], "peak_rss_mb": peak_mb, "load_s": load_s[dtype],
                     "circle_ok": ok, "check": verdict, "answer": answer})
    base = rows[0]["decode_tok_s"]
    for r in rows:
        r["speedup"] = r["decode_tok_s"] / base
    return rows


def _print(rows: list[dict]) -> None:
    print(f"{'setting':31} {'TTFT ms':>8} {'decode tok/s':>13} {'x fp32':>7} {'tokens':>7} {'model MB':>9}"
          f" {'load s':>7}  circle check")
    for r in rows:
        print(f"{r['setting']:31} {r['ttft_ms']:8.0f} {r['decode_tok_s']:13.1f} {r['speedup']:7.2f} "
              f"{r['new_tokens']:7d} {r['model_rss_mb']:9.0f} {r['load_s']:7.2f}  "
              f"{'pass' if r['circle_ok'] else 'FAIL'} ({r['check']})")
    answers = {d: {r["answer"] for r in rows if r["dtype"] == d} for d in ("float32", "bfloat16")}
    print(f"peak RSS of the whole run (both models loaded): {rows[0]['peak_rss_mb']:.0f} MB")
    print(f"prompt lookup changed the greedy answer: fp32 {len(answers['float32']) > 1}, "
          f"bf16 {len(answers['bfloat16']) > 1}; bf16 answer == fp32 answer: {answers['float32'] == answers['bfloat16']}")


def save(rows: list[dict], seconds: float, load_start) -> Path:
    import json

    import llama_cpp

    from deepcoder_lib.evaluation_cli import run_record
    from deepcoder_lib.generation import RECOMMENDED_THREADS
    path = Path(__file__).with_name("generation_speed.json")
    record = run_record("python benchmarks/bench_generation.py", load_average_at_start=[round(x, 2) for x in load_start],
                        llama_cpp_python=llama_cpp.__version__, threads=RECOMMENDED_THREADS, request=REQUEST,
                        max_new_tokens=MAX_NEW_TOKENS, repeats=REPEATS, seconds=round(seconds), rows=rows)
    path.write_text(json.dumps(record, indent=1) + "\n")
    return path


if __name__ == "__main__":
    start, load_start = time.perf_counter(), os.getloadavg()
    table = main()
    _print(table)
    seconds = time.perf_counter() - start
    print(f"({MAX_NEW_TOKENS} new tokens max, median of {REPEATS}, interleaved; {seconds:.0f} s in all; "
          f"wrote {save(table, seconds, load_start)})")
