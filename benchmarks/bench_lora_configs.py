"""LoRA configurations compared on the course's adapter task, graded with tests (notebook 14's stored table).

For each configuration (rank r, lora_alpha, target modules) a fresh adapter on the embedded model is
trained exactly as in notebook 13 (16 steps, batch 4, AdamW lr 3e-3, seed 0, float32 on the CPU), then:
trainable parameters, training seconds, the final training loss (mean of the last 4 steps), the held-out
loss (answer tokens of house-style reference answers to the 4 held-out requests), and greedy answers
(128 new tokens, no system prompt, as trained) to the 4 held-out requests and to the course's 13 Python
tasks, each graded twice: the house-style rule (adapters.house_style: type hints and a docstring) and
correctness (the tests run in the course's sandbox: lora_configs.grade_answer for the held-out requests,
evaluation.check_answer for the tasks). The first row is the base model without an adapter.

    .venv/bin/python benchmarks/bench_lora_configs.py            # ~7 min on 2 quiet cores; writes the CSV + JSON
    .venv/bin/python benchmarks/bench_lora_configs.py --quick    # 2 configs, 2 steps, no files: a smoke test

Writes benchmarks/lora_configs.csv (one row per configuration) and benchmarks/lora_configs.json (the
command, date, machine, settings and the same rows). Greedy answers of a 135M model on 4 + 13 prompts:
differences of one or two passes are noise of the prompt set, not a ranking.
"""
from __future__ import annotations

import argparse
import copy
import csv
import datetime
import json
import os
import platform
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
HERE = Path(__file__).resolve().parent
TRAIN = dict(steps=16, batch_size=4, learning_rate=3e-3, seed=0)
MAX_NEW_TOKENS = 128
CONFIGS = [  # (label, r, lora_alpha, target modules), the most telling first: a run stopped early keeps them
    ("no adapter (base model)", None, None, None),
    ("r=8, alpha=16, q_proj+v_proj (notebook 13)", 8, 16, ("q_proj", "v_proj")),
    ("r=8, alpha=16, all linear layers", 8, 16, "all-linear"),
    ("r=2, alpha=4, q_proj+v_proj", 2, 4, ("q_proj", "v_proj")),
    ("r=32, alpha=64, q_proj+v_proj", 32, 64, ("q_proj", "v_proj")),
    ("r=8, alpha=64, q_proj+v_proj (scale 8)", 8, 64, ("q_proj", "v_proj")),
    ("r=8, alpha=16, attention q,k,v,o", 8, 16, "attention"),
]
FIELDS = ["config", "r", "lora_alpha", "scaling", "target_modules", "trainable", "percent", "train_s",
          "final_train_loss", "held_out_loss", "held_out_style", "held_out_pass", "tasks_style", "tasks_pass",
          "n_held_out", "n_tasks"]


def _machine() -> dict:
    import importlib.metadata as md
    from deepcoder_lib.evaluation_cli import cpu_name
    return {"cores": os.cpu_count(), "cpu": cpu_name(), "python": platform.python_version(),
            "load_average_1_5_15": os.getloadavg(),
            **{name: md.version(name) for name in ("torch", "transformers", "peft")}}


def run_config(label, r, alpha, targets, base_model, tokenizer, data, held_out, tasks, train) -> dict:
    from deepcoder_lib import adapters, lora_configs
    from deepcoder_lib.evaluation import check_answer, generate_answers

    targets = {"attention": lora_configs.ATTENTION, "all-linear": lora_configs.ALL_LINEAR}.get(targets, targets)
    model = copy.deepcopy(base_model)
    row = {"config": label, "r": r, "lora_alpha": alpha, "target_modules": " ".join(targets or ())}
    if r is None:
        row.update(scaling=None, trainable=0, percent=0.0, train_s=0.0, final_train_loss=None)
    else:
        model = adapters.add_lora(model, r=r, lora_alpha=alpha, target_modules=targets)
        start = time.perf_counter()
        losses = adapters.train_lora(model, tokenizer, data["train"], progress=False, **train)
        counts = adapters.count_parameters(model)
        row.update(scaling=lora_configs.lora_scaling(r, alpha), trainable=counts["trainable"],
                   percent=round(counts["percent"], 4), train_s=round(time.perf_counter() - start, 1),
                   final_train_loss=round(sum(losses[-4:]) / len(losses[-4:]), 4))
    row["held_out_loss"] = round(lora_configs.answer_loss(model, tokenizer, held_out), 4)
    requests = [h["request"] for h in held_out] + [t["request"] for t in tasks]
    answers = [a[0] for a in generate_answers(model, tokenizer, [[{"role": "user", "content": q}] for q in requests],
                                              max_new_tokens=MAX_NEW_TOKENS)]
    style = [all(adapters.house_style(a).values()) for a in answers]
    passes = [lora_configs.grade_answer(a, h["tests"]).passed for a, h in zip(answers, held_out)]
    passes += [check_answer(t, a).passed for a, t in zip(answers[len(held_out):], tasks)]
    n = len(held_out)
    row.update(held_out_style=sum(style[:n]), held_out_pass=sum(passes[:n]), tasks_style=sum(style[n:]),
               tasks_pass=sum(passes[n:]), n_held_out=n, n_tasks=len(tasks))
    row["answers"] = answers
    return row


def _save(rows: list[dict], started: float, complete: bool) -> None:
    with (HERE / "lora_configs.csv").open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=FIELDS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    info = {"what": __doc__.split("\n\n")[1].replace("\n", " "),
            "command": "python benchmarks/bench_lora_configs.py", "complete": complete,
            "date": datetime.datetime.fromtimestamp(started, datetime.timezone.utc).isoformat(timespec="seconds"),
            "seconds": round(time.time() - started), "machine": _machine(),
            "training": TRAIN, "max_new_tokens": MAX_NEW_TOKENS, "rows": rows}
    (HERE / "lora_configs.json").write_text(json.dumps(info, indent=1) + "\n", encoding="utf-8")


def main(argv=None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 configs, 2 training steps, 2 tasks; writes nothing")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(HERE.parent))
    import torch
    from deepcoder_lib import adapters, lora_configs
    from deepcoder_lib.evaluation import load_tasks
    from deepcoder_lib.models import load

    torch.manual_seed(0)
    model, tokenizer = load()
    data, held_out = adapters.load_dataset(), lora_configs.load_held_out()
    tasks = [t for t in load_tasks() if t["kind"] == "python"]
    configs, train = CONFIGS, TRAIN
    if args.quick:
        configs, train, tasks = CONFIGS[:2], dict(TRAIN, steps=2), tasks[:2]
    started, rows = time.time(), []
    print(f"{'configuration':46} {'trainable':>10} {'train s':>8} {'loss':>6} {'held-out':>8} "
          f"{'style':>6} {'pass':>5} {'tasks style':>11} {'tasks pass':>10}")
    for config in configs:
        row = run_config(*config, model, tokenizer, data, held_out, tasks, train)
        rows.append(row)
        loss = "-" if row["final_train_loss"] is None else f"{row['final_train_loss']:.3f}"
        print(f"{row['config']:46} {row['trainable']:>10,} {row['train_s']:>8.1f} {loss:>6} "
              f"{row['held_out_loss']:>8.3f} {row['held_out_style']:>4}/{row['n_held_out']} "
              f"{row['held_out_pass']:>3}/{row['n_held_out']} {row['tasks_style']:>8}/{row['n_tasks']} "
              f"{row['tasks_pass']:>7}/{row['n_tasks']}", flush=True)
        if not args.quick:  # after every configuration: an interrupted run leaves what it finished
            _save(rows, started, complete=len(rows) == len(configs))
    return rows


if __name__ == "__main__":
    main()
