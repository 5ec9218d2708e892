"""Instant check for notebook 15 (quantized and other adapters). Returns a CheckResult.

``check_fixed_snippet`` runs a version of the course's source snippet (which loads bigcode/starcoderbase-7b with
an Astraios adapter) with stand-ins for the hub and a GPU (``exercises.snippet``) and says what is still wrong
with what it *did*: which model generate ran on, how often the base was loaded, whether the adapter fits that
base, where the inputs were, and how long an answer it asked for.
"""
from __future__ import annotations

from . import CheckResult, error_message, failed, not_answered, passed
from .snippet import Model, SnippetProblem, run_snippet


def check_fixed_snippet(code) -> CheckResult:
    """Is the source snippet fixed? Runs ``code`` with stand-ins (``exercises.snippet``): one base model loaded once,
    an adapter made for that base attached the way it can be (LoRA through ``PeftModel.from_pretrained``,
    Astraios' parallel adapter through ``load_bottleneck_adapter`` on a downloaded folder), generate called on the
    adapted model with the tokenizer's whole output on the model's device and max_new_tokens of 64 or more."""
    if code is ... or not isinstance(code, str) or not code.strip():
        return not_answered("`fixed`", "your corrected snippet (a string of Python code)")
    try:
        record = run_snippet(code)
    except SyntaxError as err:
        return failed(f"The code does not parse: {err.msg} (line {err.lineno}).")
    except SnippetProblem as err:
        return failed(str(err))
    except Exception as err:  # the learner's code raised: say where and what
        return failed(f"Run with stand-ins for the hub and a GPU, your code stopped: {error_message(err)}")
    if not record.adapters:
        return failed("Keep the adapter: the snippet must still call PeftModel.from_pretrained(model, adapter) "
                      "(a LoRA adapter) or adapters.load_bottleneck_adapter(model, folder) (the parallel one).")
    if not record.generates:
        return failed("Your code never called generate (is it under a branch or in a function that never runs?). "
                      "Call model.generate(...) on the adapted model to produce the completion.")
    call = record.generates[-1]
    model: Model = call["model"]
    who = f"`{call['names'][0]}`" if call["names"] else "that object"
    if model.adapter is None:
        if getattr(model, "after_adapter", False):
            return failed("A second AutoModelForCausalLM.from_pretrained(...) after the adapter was loaded gives a "
                          f"fresh base model ({who}): the adapter is thrown away. Load the base once, place it "
                          "with device_map= (or .to(device)) before wrapping it.")
        return failed(f"generate is called on {who}, a plain model from AutoModelForCausalLM.from_pretrained, so "
                      "the adapter is never used: call generate on the object PeftModel.from_pretrained returned.")
    loads = [m for m in record.loads if m.checkpoint == model.checkpoint]
    if len(loads) > 1:
        return failed(f"The base model {model.checkpoint!r} is loaded {len(loads)} times: each from_pretrained "
                      "builds another full copy (27 GiB for StarCoderBase-7B in float32) and only one is used. "
                      "Load it once, with its device and dtype, and wrap that one.")
    kwargs = call["kwargs"]
    inputs = kwargs.get("input_ids", call["args"][0] if call["args"] else None)
    mask = kwargs.get("attention_mask")
    if hasattr(inputs, "keys") and "input_ids" in inputs:  # generate(encoding) passed positionally
        inputs, mask = inputs["input_ids"], inputs.get("attention_mask")
    if inputs is None or not hasattr(inputs, "device"):
        return failed("Pass what the tokenizer returned: inputs = tokenizer(prompt, return_tensors='pt')"
                      ".to(model.device), then model.generate(**inputs, max_new_tokens=...).")
    on = {"model": model._device, "inputs": inputs.device.type}
    if "?" not in on.values() and on["model"] != on["inputs"]:
        return failed(f"The model is on {on['model']} but the inputs are on {on['inputs']}: generate stops "
                      "with 'Expected all tensors to be on the same device'. Load the model with "
                      "device_map=\"auto\" (or move it with .to(device)) and the inputs with .to(model.device).")
    length = kwargs.get("max_new_tokens")
    if length is None:
        if "max_length" in kwargs:
            return failed("max_length counts the prompt too (max_length=20 is the generic default): ask for "
                          "the answer's length with max_new_tokens=... (e.g. 128).")
        return failed("generate() without a length stops after 20 new tokens (the generic default "
                      "max_length=20): pass max_new_tokens=... (e.g. 128).")
    if not isinstance(length, int) or isinstance(length, bool) or length < 64:
        return failed(f"max_new_tokens={length!r} is barely more than the default 20, or not a whole number: too "
                      "short for a function. Ask for 128 or more.")
    if mask is None:
        return failed("Pass the tokenizer's whole output: inputs = tokenizer(prompt, return_tensors='pt') and "
                      "model.generate(**inputs, ...), so generate gets the attention_mask too.")
    kind = ("Astraios' parallel adapter (through load_bottleneck_adapter)" if model.loader ==
            "load_bottleneck_adapter" else "a LoRA adapter")
    note = (f" ({who} works because PeftModel.from_pretrained injected the adapter into it in place; calling "
            "generate on the PeftModel it returned says so, and disable_adapter()/merge_and_unload() live there.)"
            if model.loader == "PeftModel.from_pretrained" and not call.get("peft") and not model.merged else "")
    return passed(f"Fixed: one base model, loaded once, with {kind} made for it; generate on the adapted model, "
                  f"inputs on its device with their attention mask, and max_new_tokens={length}.{note}")
