"""Which speed knobs pay for greedy decoding of the embedded model on this CPU, measured in one run.

What each knob adds over plain float32, and why the course default is bfloat16 + plain greedy. One row
per setting, all interleaved repeat by repeat so that a shared machine's load hits them alike:

- ``fp32``: ``from_pretrained(checkpoint)`` + ``generate(do_sample=False)``, the baseline;
- ``default (bf16, greedy)``: the course default;
- ``bf16 + static cache + torch.compile``: ``generation.compile_decoding(model)``, the course's opt-in
  (transformers' compiled decoding with a 256-position static cache); the first call's compile time is
  printed; and the same with a loose 2,048-position cache (every step attends over all of it);
- ``bf16 + int8 weight-only``: every Linear's weights in int8 with one bfloat16 scale per output row,
  multiplied by ``torch.ops.aten._weight_int8pack_mm`` (the CPU kernel torchao's int8 weight-only uses);
- ``fp32 + dynamic int8``: ``torch.ao.quantization.quantize_dynamic`` (deprecated in favour of torchao),
  which quantizes the activations too.

Besides decode tokens/s, time to first token and the circle-area check, each row gives ``linear_ms``:
one token's pass through the model's own Linear layers alone (every weight read once, nothing else).
It bounds what any knob that keeps these kernels can reach: the decode step is those milliseconds plus
the rest of the layer (norms, rotary embedding, attention, cache) plus generate's own loop.

    .venv/bin/python benchmarks/bench_speed_knobs.py      # about 5 minutes on 2 cores
"""
from __future__ import annotations

import atexit
import os
import shutil
import statistics
import sys
import tempfile
import time
import warnings

os.environ.setdefault("HF_HUB_OFFLINE", "1")
# An empty compile cache, so that the compiled row's first call shows the cold compile a learner meets
# at the first kernel start (later starts on the same machine reuse the cache and compile faster).
_COMPILE_CACHE = tempfile.mkdtemp(prefix="deepcoder-inductor-")
os.environ["TORCHINDUCTOR_CACHE_DIR"] = _COMPILE_CACHE
atexit.register(shutil.rmtree, _COMPILE_CACHE, ignore_errors=True)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_generation import REQUEST, circle_area_ok  # noqa: E402

MAX_NEW_TOKENS = 128
REPEATS = 3


def _int8_weight_only(model):
    """Swap every nn.Linear for an int8 weight-only version (per-row scales), in place."""
    import torch

    class Int8Linear(torch.nn.Module):
        def __init__(self, linear: torch.nn.Linear):
            super().__init__()
            weight = linear.weight.detach().float()
            scale = weight.abs().amax(dim=1).clamp(min=1e-12) / 127
            self.register_buffer("weight_int8", torch.round(weight / scale[:, None]).clamp(-128, 127).to(torch.int8))
            self.register_buffer("scale", scale.to(linear.weight.dtype))
            self.in_features, self.out_features = linear.in_features, linear.out_features

        def forward(self, x):
            y = torch.ops.aten._weight_int8pack_mm(x.reshape(-1, x.shape[-1]), self.weight_int8, self.scale)
            return y.reshape(*x.shape[:-1], self.out_features)

    for module in list(model.modules()):
        for name, child in list(module.named_children()):
            if isinstance(child, torch.nn.Linear):
                setattr(module, name, Int8Linear(child))
    return model


def _dynamic_int8(model):
    import torch
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.ao's deprecation notice; the row shows what it does
        return torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)


def linear_ms(model, repeats: int = 5) -> float:
    """One token through every Linear-like layer of ``model``, in order: milliseconds (median)."""
    import torch
    layers = [m for m in model.modules() if hasattr(m, "in_features") and hasattr(m, "out_features")]
    dtype = next(model.parameters()).dtype
    inputs = {n: torch.randn(1, n, dtype=dtype) for n in {m.in_features for m in layers}}
    times = []
    with torch.inference_mode():
        for _ in range(repeats + 1):
            start = time.perf_counter()
            for layer in layers:
                layer(inputs[layer.in_features])
            times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times[1:])


def main() -> list[dict]:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.generation.streamers import BaseStreamer

    from deepcoder_lib.generation import RECOMMENDED_THREADS, compile_decoding
    from deepcoder_lib.models import default_checkpoint

    class Clock(BaseStreamer):
        """Records when generate hands over the prompt (first put) and each new token."""
        def __init__(self):
            self.times = []

        def put(self, value):
            self.times.append(time.perf_counter())

        def end(self):
            pass

    torch.set_num_threads(RECOMMENDED_THREADS)
    checkpoint = default_checkpoint()
    tokenizer = AutoTokenizer.from_pretrained(checkpoint)
    inputs = tokenizer.apply_chat_template([{"role": "user", "content": REQUEST}], add_generation_prompt=True,
                                           return_tensors="pt", return_dict=True)
    n_prompt = inputs["input_ids"].shape[1]
    load = lambda dtype: AutoModelForCausalLM.from_pretrained(checkpoint, dtype=dtype)  # noqa: E731
    settings = {
        "fp32": load(torch.float32),
        "default (bf16, greedy)": load(torch.bfloat16),
        "bf16 + static cache + torch.compile": compile_decoding(load(torch.bfloat16)),
        "same, with a 2,048-position cache": compile_decoding(load(torch.bfloat16), max_cache_len=2048),
        "bf16 + int8 weight-only": _int8_weight_only(load(torch.bfloat16)),
        "fp32 + dynamic int8 (torch.ao)": _dynamic_int8(load(torch.float32)),
    }
    first_call_s, decode, ttft, answers = {}, {n: [] for n in settings}, {n: [] for n in settings}, {}
    with torch.inference_mode():
        for name, model in settings.items():  # warm-up; for the compiled row, this is the compile
            start = time.perf_counter()
            model.generate(**inputs, do_sample=False, max_new_tokens=MAX_NEW_TOKENS)
            first_call_s[name] = time.perf_counter() - start
        for _ in range(REPEATS):
            for name, model in settings.items():
                clock, start = Clock(), time.perf_counter()
                out = model.generate(**inputs, do_sample=False, max_new_tokens=MAX_NEW_TOKENS, streamer=clock)
                new = clock.times[1:]  # times[0] is the prompt
                ttft[name].append(new[0] - start)
                decode[name].append((len(new) - 1) / (new[-1] - new[0]))
                answers[name] = tokenizer.decode(out[0, n_prompt:], skip_special_tokens=True)
    rows = []
    for name, model in settings.items():
        ok, verdict = circle_area_ok(answers[name])
        rows.append({"setting": name, "decode_tok_s": statistics.median(decode[name]),
                     "ttft_ms": 1000 * statistics.median(ttft[name]), "first_call_s": first_call_s[name],
                     "linear_ms": None if model.generation_config.compile_config else linear_ms(model),
                     "same_answer_as_fp32": answers[name] == answers["fp32"], "circle_ok": ok, "check": verdict,
                     "answer": answers[name]})
    base = rows[0]["decode_tok_s"]
    for row in rows:
        row["x_fp32"] = row["decode_tok_s"] / base
    return rows


def _print(rows: list[dict]) -> None:
    print(f"{'setting':37} {'decode tok/s':>12} {'x fp32':>7} {'TTFT ms':>8} {'1st call s':>10} {'linear ms':>9}"
          f"  same as fp32  circle check")
    for r in rows:
        linear = "-" if r["linear_ms"] is None else f"{r['linear_ms']:.1f}"
        print(f"{r['setting']:37} {r['decode_tok_s']:12.1f} {r['x_fp32']:7.2f} {r['ttft_ms']:8.0f} "
              f"{r['first_call_s']:10.1f} {linear:>9}  {str(r['same_answer_as_fp32']):12}  "
              f"{'pass' if r['circle_ok'] else 'FAIL'} ({r['check']})")
    for r in rows:
        if not r["circle_ok"]:
            print(f"\n{r['setting']} answered:\n{r['answer'][:400]}")


if __name__ == "__main__":
    start = time.perf_counter()
    table = main()
    _print(table)
    print(f"({MAX_NEW_TOKENS} new tokens max, median of {REPEATS}, interleaved; "
          f"{time.perf_counter() - start:.0f} s in all)")
