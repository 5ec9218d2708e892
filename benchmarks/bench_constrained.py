"""Constrained output on the embedded model (notebook 18's stored figures): how often the answer parses, and what the
constraint costs in tokens per second.

Each of the REQUESTS (chat requests that ask for a JSON object with keys name and year) is answered greedily by the
embedded SmolLM2-135M-Instruct (float32, CPU, one thread) three ways, with the same prompt and max_new_tokens:
unconstrained; with the course's processor (``constrained.FormatLogitsProcessor`` over ``json_object(FIELDS)``);
with xgrammar's processor for the same JSON schema (``constrained.grammar_processor``). For each answer: does it
parse (``json.loads``), does it match the schema (exactly the keys, a string and an integer), the new tokens and the
seconds of ``generate``, and the seconds spent inside the processor (the mask; ``mask_ms_per_step`` is that per
call). Tokens per second are the summed new tokens over the summed seconds of each way (prompt reading included, so
a way with shorter answers pays it over fewer tokens); the mask set-up (token table, grammar compilation) is timed on
its own and not counted in them. xgrammar writes JSON as json.dumps does (``any_whitespace=False``).

    .venv/bin/python benchmarks/bench_constrained.py            # ~3-6 min on 2 shared cores; writes the JSON
    .venv/bin/python benchmarks/bench_constrained.py --quick    # 2 requests, writes nothing: a smoke test

Writes benchmarks/constrained_results.json (the command, date, machine, load averages, versions, every decoding knob,
the summary and every answer). A shared machine's tokens per second vary with its load: compare the three ways of one
run (they alternate request by request), not runs on different days.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
HERE = Path(__file__).resolve().parent
OUT = HERE / "constrained_results.json"
FIELDS = {"name": "string", "year": "integer"}
SCHEMA = {"type": "object",
          "properties": {"name": {"type": "string", "maxLength": 24}, "year": {"type": "integer"}},
          "required": ["name", "year"], "additionalProperties": False}
LANGUAGES = ["Python", "C", "Java", "JavaScript", "Rust", "Go", "Haskell", "Lisp", "Fortran", "Ruby", "Swift", "PHP"]
TEMPLATES = ["Give the name and the first release year of {} as a JSON object with keys name and year.",
             "Reply only with JSON: {{\"name\": ..., \"year\": ...}} for the {} programming language.",
             "When did {} appear? Answer in JSON with the keys name and year."]
REQUESTS = [TEMPLATES[i % len(TEMPLATES)].format(lang) for i, lang in enumerate(LANGUAGES)]
MAX_NEW_TOKENS = 53  # the course format's longest text (json_object(FIELDS), max_len=24) is 52 characters, + EOS


def matches_schema(text: str) -> tuple[bool, bool]:
    """(parses, matches): json.loads succeeds; the value has exactly name (a string) and year (an int)."""
    try:
        value = json.loads(text)
    except ValueError:
        return False, False
    ok = (isinstance(value, dict) and set(value) == set(FIELDS) and isinstance(value["name"], str)
          and isinstance(value["year"], int) and not isinstance(value["year"], bool))
    return True, ok


class Timed:
    """A logits processor wrapped so that the seconds spent in it (the mask) are counted."""

    def __init__(self, processor):
        self.processor, self.seconds, self.calls = processor, 0.0, 0

    def __call__(self, input_ids, scores):
        start = time.perf_counter()
        out = self.processor(input_ids, scores)
        self.seconds += time.perf_counter() - start
        self.calls += 1
        return out


def _machine() -> dict:
    import importlib.metadata as md
    from deepcoder_lib.evaluation_cli import cpu_name
    return {"cores": os.cpu_count(), "cpu": cpu_name(), "platform": platform.platform(),
            "python": platform.python_version(), "torch_threads": None,
            **{name: md.version(name) for name in ("torch", "transformers", "xgrammar")}}


def main(argv=None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 requests; writes nothing")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(HERE.parent))
    import torch
    from transformers import LogitsProcessorList
    from deepcoder_lib import constrained
    from deepcoder_lib.inputs import prepare_inputs
    from deepcoder_lib.models import load

    torch.set_num_threads(1)  # a shared 2-core machine: one thread is steadier (see docs: FACTS)
    load_start = os.getloadavg()
    model, tokenizer = load()
    start = time.perf_counter()
    table = constrained.token_table(tokenizer, model.config.vocab_size)
    table_s = time.perf_counter() - start
    fmt = constrained.json_object(FIELDS)
    start = time.perf_counter()
    constrained.grammar_processor(tokenizer, model.config.vocab_size, json_schema=SCHEMA)
    grammar_s = time.perf_counter() - start
    eos = model.generation_config.eos_token_id
    requests = REQUESTS[:2] if args.quick else REQUESTS
    decoding = {"do_sample": False, "max_new_tokens": MAX_NEW_TOKENS, "repetition_penalty": 1.0}
    makers = {"unconstrained": lambda n: [],
              "course processor": lambda n: [constrained.FormatLogitsProcessor(fmt, table, eos, n)],
              "xgrammar": lambda n: [constrained.grammar_processor(tokenizer, model.config.vocab_size,
                                                                   json_schema=SCHEMA)]}
    answers = []
    for i, request in enumerate(requests):
        inputs = prepare_inputs(tokenizer, [{"role": "user", "content": request}], model=model)
        n = inputs["input_ids"].shape[1]
        for way, make in makers.items():
            timed = [Timed(p) for p in make(n)]
            processors = LogitsProcessorList(timed)
            start = time.perf_counter()
            with torch.inference_mode():
                out = model.generate(**inputs, **decoding, logits_processor=processors)
            seconds = time.perf_counter() - start
            text = tokenizer.decode(out[0, n:], skip_special_tokens=True)
            parses, matches = matches_schema(text)
            answers.append({"request": request, "way": way, "text": text, "parses": parses, "matches": matches,
                            "new_tokens": int(out.shape[1] - n), "seconds": round(seconds, 3),
                            "mask_seconds": round(sum(p.seconds for p in timed), 4),
                            "mask_calls": sum(p.calls for p in timed)})
            print(f"[{i + 1}/{len(requests)}] {way:16} {answers[-1]['new_tokens']:3d} tokens {seconds:5.2f} s "
                  f"parses={parses} {text[:60]!r}", file=sys.stderr, flush=True)
    summary = {}
    for way in makers:
        rows = [a for a in answers if a["way"] == way]
        tokens, seconds = sum(a["new_tokens"] for a in rows), sum(a["seconds"] for a in rows)
        summary[way] = {"answers": len(rows), "parse_rate": sum(a["parses"] for a in rows) / len(rows),
                        "schema_rate": sum(a["matches"] for a in rows) / len(rows), "new_tokens": tokens,
                        "seconds": round(seconds, 2), "tokens_per_s": round(tokens / seconds, 2),
                        "mask_ms_per_step": round(1000 * sum(a["mask_seconds"] for a in rows)
                                                  / max(1, sum(a["mask_calls"] for a in rows)), 2)}
    base = summary["unconstrained"]["tokens_per_s"]
    for way in summary:
        summary[way]["speed_vs_unconstrained"] = round(summary[way]["tokens_per_s"] / base, 3)
    machine = {**_machine(), "torch_threads": torch.get_num_threads(), "load_average_at_start": load_start,
               "load_average_at_end": os.getloadavg()}
    record = {"command": "python benchmarks/bench_constrained.py",
              "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
              "machine": machine, "model": "SmolLM2-135M-Instruct (embedded, float32, CPU)",
              "decoding": {**decoding, "temperature": None, "batch": 1}, "fields": FIELDS, "schema": SCHEMA,
              "course_format_max_chars": fmt.max_chars, "setup_seconds": {"token_table": round(table_s, 2),
                                                                          "xgrammar_compile": round(grammar_s, 2)},
              "summary": summary, "answers": answers}
    if not args.quick:
        OUT.write_text(json.dumps(record, indent=1) + "\n")
        print(f"wrote {OUT}", file=sys.stderr)
    rows = [{"what": way, "figures": f"parses {s['parse_rate']:.0%}, schema {s['schema_rate']:.0%}, "
                                     f"{s['tokens_per_s']:.1f} tok/s ({s['speed_vs_unconstrained']:.2f}x), mask "
                                     f"{s['mask_ms_per_step']:.1f} ms/step"}
            for way, s in summary.items()]
    for row in rows:
        print(f"{row['what']:16} {row['figures']}")
    print(f"load average {machine['load_average_at_start']} -> {machine['load_average_at_end']}")
    return rows


if __name__ == "__main__":
    main()
