"""Device check: every public helper and widget of the course, with the model on the best device present.

    python scripts/device_check.py            # the embedded model, course.device_settings() (GPU if present)
    python scripts/device_check.py --tiny     # a 2-layer random-weight model of the same shape (fast)
    python scripts/device_check.py --compile  # also greedy tokens/s with generation.compile_decoding

Prints PASS/FAIL per helper and a final count; exit code 1 if any failed. Needs torch, transformers,
accelerate, peft and matplotlib; a missing ipywidgets makes the widget lines FAIL, not the script crash.
"""
from __future__ import annotations

import argparse
import sys
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import torch  # noqa: E402

REQUEST = "Write a Python function that returns the area of a circle."
MESSAGES = [{"role": "user", "content": REQUEST}]


def load(tiny: bool):
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    from deepcoder_lib import course
    from deepcoder_lib.models import default_checkpoint
    checkpoint, settings = default_checkpoint(), course.device_settings()
    tokenizer = AutoTokenizer.from_pretrained(checkpoint)
    if tiny:
        config = AutoConfig.from_pretrained(checkpoint, num_hidden_layers=2)
        model = AutoModelForCausalLM.from_config(config, dtype=settings.get("dtype", torch.float32))
        target = {"auto": "cuda", None: "cpu"}.get(settings.get("device_map"), settings.get("device_map"))
        model = model.to(target)
    else:
        model = AutoModelForCausalLM.from_pretrained(checkpoint, **settings)
    print(f"model: {'tiny random' if tiny else checkpoint} on {model.device}, {model.dtype}; "
          f"{course.from_pretrained_call(settings)}")
    return model.eval(), tokenizer


def checks(model, tokenizer):
    """(name, zero-argument callable) for every public helper; each returns something to show."""
    from deepcoder_lib import adapters, evaluation, generation, plots, sampling

    def logits():
        return generation.next_token_logits(model, tokenizer, MESSAGES)

    def stepper_calls():
        from deepcoder_lib import stepper
        s = stepper.Stepper(model, tokenizer, MESSAGES, n=3)
        s.choose()
        return s.generated_text

    def widget(name):
        def call():
            from deepcoder_lib import explorer, stepper
            if name == "step_through_widget":
                return stepper.step_through_widget(model, tokenizer, MESSAGES, n=3)
            if name == "confidence_view":
                return stepper.confidence_view(model, tokenizer, REQUEST, max_new_tokens=8)[1]
            if name == "streaming_widget":
                box = stepper.streaming_widget(model, tokenizer, REQUEST, max_new_tokens=8)
                box.generate_button.click()
                box.thread.join(120)
                assert box.status.value == "done", box.status.value
                return box.output.value
            ex = explorer.make_explorer(model, tokenizer, {"circle": REQUEST}, n=5, num_samples=2, max_new_tokens=8)
            ex.temperature.value = 0.7
            return ex.sample()
        return call

    def lora():
        peft_model = adapters.add_lora(model)
        try:
            inputs = adapters.chat_inputs(tokenizer, REQUEST, "```python\ndef area(r", model=peft_model)
            rows = adapters.next_token_probs(peft_model, tokenizer, REQUEST, "```python\ndef area(r", n=3)
            adapters.compare_outputs(peft_model, tokenizer, [REQUEST], max_new_tokens=4)
            with torch.no_grad():
                peft_model(**inputs)
            return rows[0]
        finally:
            peft_model.unload()  # the base model again, for the checks after this one

    def greedy():
        inputs = generation.prepare_inputs(tokenizer, MESSAGES, model=model)
        ids = generation.greedy_by_hand(model, inputs["input_ids"], 6)
        return generation.token_probs(model, ids, inputs["input_ids"].shape[1])

    def draw_and_plot():
        probs = sampling.sampling_probs(logits(), temperature=0.7, top_k=20)
        ids = sampling.draw(probs.to(generation.input_device(model)), 20, seed=0)
        plots.plot_top_tokens(logits().softmax(-1), probs, tokenizer, n=8)
        plots.plot_draws(ids, probs, tokenizer, n=8)
        return ids[:5].tolist()

    return [
        ("generation.next_token_logits", logits),
        ("generation.top_candidates", lambda: generation.top_candidates(logits(), tokenizer, n=3)[0]["token"]),
        ("generation.greedy_by_hand + token_probs", greedy),
        ("generation.generate_code", lambda: generation.generate_code(model, tokenizer, REQUEST, max_new_tokens=8)),
        ("generation.stream_generate",
         lambda: generation.stream_generate(model, tokenizer, REQUEST, lambda piece: None, max_new_tokens=8)),
        ("stepper.Stepper", stepper_calls),
        ("stepper.step_through_widget", widget("step_through_widget")),
        ("stepper.confidence_view", widget("confidence_view")),
        ("stepper.streaming_widget", widget("streaming_widget")),
        ("explorer.make_explorer + sample", widget("explorer")),
        ("sampling.draw (on the model's device) + plots", draw_and_plot),
        ("evaluation.generate_answers (batched, sampled)", lambda: evaluation.generate_answers(
            model, tokenizer, [evaluation.build_messages(REQUEST)] * 2, n=2, temperature=0.8, max_new_tokens=8)),
        ("adapters (LoRA add, chat_inputs, next_token_probs, compare)", lora),
    ]


def tokens_per_second(model, tokenizer, max_new_tokens: int = 64) -> float:
    from deepcoder_lib import generation
    inputs = generation.prepare_inputs(tokenizer, MESSAGES, model=model)
    with torch.inference_mode():
        model.generate(**inputs, max_new_tokens=4, do_sample=False)  # warm-up (and the compile, if any)
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        start = time.perf_counter()
        out = model.generate(**inputs, max_new_tokens=max_new_tokens, min_new_tokens=max_new_tokens, do_sample=False)
        if torch.cuda.is_available():
            torch.cuda.synchronize()
    return (out.shape[1] - inputs["input_ids"].shape[1]) / (time.perf_counter() - start)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="a 2-layer random-weight model (fast)")
    parser.add_argument("--compile", action="store_true", help="also time generation.compile_decoding")
    args = parser.parse_args(argv)
    model, tokenizer = load(args.tiny)
    passed = 0
    calls = checks(model, tokenizer)
    for name, call in calls:
        start = time.perf_counter()
        try:
            shown = call()
            passed += 1
            print(f"PASS  {name:<58} {time.perf_counter() - start:6.2f} s  {str(shown)[:40]!r}")
        except Exception as exc:  # every helper is tried, whatever the one before did
            print(f"FAIL  {name:<58} {type(exc).__name__}: {str(exc)[:160]}")
            traceback.print_exc(limit=-2, file=sys.stdout)
    eager = tokens_per_second(model, tokenizer)
    print(f"greedy decoding, eager: {eager:.1f} tokens/s on {model.device} ({model.dtype})")
    if args.compile:
        from deepcoder_lib.generation import compile_decoding
        start = time.perf_counter()
        compile_decoding(model)
        compiled = tokens_per_second(model, tokenizer)
        print(f"greedy decoding, compile_decoding: {compiled:.1f} tokens/s ({compiled / eager:.2f}x eager; "
              f"warm-up with the compile took part of {time.perf_counter() - start:.0f} s)")
    print(f"{passed} passed, {len(calls) - passed} failed")
    return 0 if passed == len(calls) else 1


if __name__ == "__main__":
    sys.exit(main())
