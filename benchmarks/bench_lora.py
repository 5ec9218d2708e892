"""LoRA on the embedded model, CPU: seconds per training step, and decoding speed with vs without merging.

Run: .venv/bin/python benchmarks/bench_lora.py   (about 1-2 minutes on 2 free cores)
Figures are wall-clock medians on a possibly shared machine: compare the rows of one run.
"""
from __future__ import annotations

import os
import statistics
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")

STEPS = 4            # timed training steps (batch 4, r=8 on q_proj/v_proj, like notebook 13)
NEW_TOKENS = 32      # greedy tokens per decode measurement
REPEATS = 3


def _decode_tok_s(model, inputs) -> float:
    import torch
    times = []
    with torch.no_grad():
        for _ in range(REPEATS):
            start = time.perf_counter()
            model.generate(**inputs, max_new_tokens=NEW_TOKENS, min_new_tokens=NEW_TOKENS, do_sample=False)
            times.append(time.perf_counter() - start)
    return NEW_TOKENS / statistics.median(times)


def main() -> list[dict]:
    import torch
    from deepcoder_lib import adapters
    from deepcoder_lib.models import load

    torch.manual_seed(0)
    model, tokenizer = load()
    data = adapters.load_dataset()
    inputs = adapters.chat_inputs(tokenizer, data["held_out"][0])
    rows = [{"what": "base model, greedy decode", "value": _decode_tok_s(model, inputs), "unit": "tok/s"}]

    peft_model = adapters.add_lora(model, r=8)
    start = time.perf_counter()
    adapters.train_lora(peft_model, tokenizer, data["train"], steps=STEPS, batch_size=4, progress=False)
    rows.append({"what": f"LoRA training step (batch 4, mean of {STEPS})",
                 "value": (time.perf_counter() - start) / STEPS, "unit": "s/step"})
    rows.append({"what": "with unmerged LoRA, greedy decode", "value": _decode_tok_s(peft_model, inputs), "unit": "tok/s"})

    start = time.perf_counter()
    merged, diff = adapters.merge_and_compare(peft_model, inputs)
    rows.append({"what": "merge_and_unload + 2 forward passes", "value": time.perf_counter() - start, "unit": "s"})
    rows.append({"what": "max |logits adapter - merged|", "value": diff, "unit": ""})
    rows.append({"what": "merged model, greedy decode", "value": _decode_tok_s(merged, inputs), "unit": "tok/s"})
    return rows


if __name__ == "__main__":
    results = main()
    print(f"{'measurement':45} {'value':>12}  unit")
    for row in results:
        value = f"{row['value']:.2e}" if row["unit"] == "" else f"{row['value']:.2f}"
        print(f"{row['what']:45} {value:>12}  {row['unit']}")
