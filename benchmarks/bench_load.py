"""Load-time benchmark for the embedded model: import, tokenizer, model, first forward pass, peak RSS.

Each figure is measured in a fresh Python process (a warm import cache would flatter it), offline.
Run: .venv/bin/python benchmarks/bench_load.py
"""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys

CHILD = r"""
import json, resource, time
t0 = time.perf_counter()
import torch, transformers
from transformers import AutoModelForCausalLM, AutoTokenizer
t1 = time.perf_counter()
from deepcoder_lib.models import default_checkpoint
path = default_checkpoint()
t2 = time.perf_counter()
tokenizer = AutoTokenizer.from_pretrained(path)
t3 = time.perf_counter()
model = AutoModelForCausalLM.from_pretrained(path)
t4 = time.perf_counter()
with torch.no_grad():
    model(**tokenizer("def area(radius):", return_tensors="pt"))
t5 = time.perf_counter()
print(json.dumps({"import_s": t1 - t0, "validate_cache_s": t2 - t1, "tokenizer_s": t3 - t2, "model_s": t4 - t3,
                  "first_forward_s": t5 - t4, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def main(repeats: int = 3) -> list[dict]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_VERBOSITY": "error"}
    runs = []
    for _ in range(repeats):
        out = subprocess.run([sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, check=True)
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    rows = [{"benchmark": "load", "metric": key, "median": statistics.median(r[key] for r in runs),
             "unit": "MB" if key.endswith("_mb") else "s"} for key in runs[0]]
    return rows


if __name__ == "__main__":
    print(f"{'metric':<20}{'median':>10}  unit   (fresh process, offline, {os.cpu_count()} cores)")
    for row in main():
        print(f"{row['metric']:<20}{row['median']:>10.2f}  {row['unit']}")
