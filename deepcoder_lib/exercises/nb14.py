"""Instant checks for notebook 14 (adapters in practice). Each returns a CheckResult.

``check_fixed_snippet`` reads (never runs) a version of the course's source snippet, which loads
bigcode/starcoderbase-7b with an Astraios adapter, and says what is still wrong with it.
"""
from __future__ import annotations

import ast
import re

from . import CheckResult, failed, passed


def _name(call: ast.Call) -> str:
    return call.func.attr if isinstance(call.func, ast.Attribute) else getattr(call.func, "id", "")


_MODEL_LOADERS = ("AutoModelForCausalLM", "AutoModel", "GPTBigCodeForCausalLM", "LlamaForCausalLM")
_BOTTLENECK = "parallel"  # Astraios' parallel adapters are type BOTTLENECK: mainline peft cannot load them
_BOTTLENECK_LOADERS = ("load_bottleneck_adapter",)  # deepcoder_lib.adapters / .bottleneck: the parallel variant
_HUB_ID = re.compile(r"[\w.-]+/[\w.-]+")


def _device(value: str) -> str:
    """'cuda:0' -> 'cuda', 'auto' -> 'cuda' (device_map="auto" puts the embeddings on GPU 0), 'cpu' -> 'cpu'."""
    value = str(value)
    return "cuda" if value.startswith("cuda") or value in ("auto", "balanced", "balanced_low_0", "sequential") \
        else value


class _Snippet:
    """Follow a short script statement by statement: what each name holds and on which device.

    A name holds a dict: ``kind`` ("base" model, "peft" model, "merged" model, "tokenizer",
    "encoding" (tokenizer(...): ids + attention_mask), "ids" (tokenizer.encode), "device",
    "text"), ``device`` ("cpu", "cuda", or "?" when the check cannot tell) and where it came from.
    """

    def __init__(self):
        self.names: dict[str, dict] = {}
        self.peft_seen = False
        self.reload_after_peft = False
        self.generate: list[tuple[ast.Call, dict | None]] = []

    def run(self, statements):
        for stmt in statements:
            if isinstance(stmt, ast.Assign):
                info = self.value(stmt.value)
                for target in stmt.targets:
                    if isinstance(target, ast.Name):
                        self.names[target.id] = info or {"kind": "other", "device": "?"}
            elif isinstance(stmt, ast.Expr):
                self.value(stmt.value)
            for field in ("body", "orelse", "finalbody"):  # with torch.no_grad():, if ...:, try:
                if isinstance(getattr(stmt, field, None), list) and not isinstance(stmt, (ast.FunctionDef,
                                                                                             ast.ClassDef)):
                    self.run(getattr(stmt, field))

    def device_of(self, node) -> str:
        if isinstance(node, ast.Constant) and isinstance(node.value, (str, int)):
            return "cuda" if isinstance(node.value, int) else _device(node.value)
        if isinstance(node, ast.Name):
            info = self.names.get(node.id, {})
            return info.get("device", "?") if info.get("kind") in ("device", "text") else "?"
        if isinstance(node, ast.Attribute) and node.attr == "device":
            return (self.value(node.value) or {}).get("device", "?")
        if isinstance(node, ast.Call) and _name(node) == "device" and node.args:  # torch.device("cuda")
            return self.device_of(node.args[0])
        return "?"

    def value(self, node) -> dict | None:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return {"kind": "text", "device": _device(node.value), "text": node.value}
        if isinstance(node, ast.Name):
            return self.names.get(node.id)
        if isinstance(node, ast.Subscript):  # inputs["input_ids"]: the ids alone, where the encoding is
            whole = self.value(node.value)
            return {"kind": "ids", "device": whole["device"]} if whole and whole["kind"] == "encoding" else None
        if not isinstance(node, ast.Call):
            return None
        func, name = node.func, _name(node)
        kwargs = {k.arg: k.value for k in node.keywords}
        owner = getattr(func.value, "id", "") if isinstance(func, ast.Attribute) else ""
        if name == "from_pretrained" and owner in _MODEL_LOADERS:
            self.reload_after_peft |= self.peft_seen
            placed = self.device_of(kwargs["device_map"]) if "device_map" in kwargs else "cpu"
            if isinstance(kwargs.get("device_map"), ast.Dict):
                placed = "?"
            return {"kind": "base", "device": placed, "line": node.lineno}
        if name == "from_pretrained" and owner == "PeftModel":
            base = self.value(node.args[0]) if node.args else None
            adapter = self.value(node.args[1]) if len(node.args) > 1 else None
            self.peft_seen = True
            if base and base["kind"] == "base":
                base["wrapped"] = True  # peft injects its layers into the base model in place
            return {"kind": "peft" if base and base["kind"] == "base" else "peft-without-base",
                    "device": (base or {}).get("device", "?"), "adapter": (adapter or {}).get("text", ""),
                    "line": node.lineno}
        if name in _BOTTLENECK_LOADERS:
            base = self.value(node.args[0]) if node.args else None
            adapter = self.value(node.args[1]) if len(node.args) > 1 else None
            self.peft_seen = True
            if not base or base["kind"] != "base":
                return {"kind": "peft-without-base", "device": "?", "loader": name}
            base.update(kind="bottleneck", adapter=(adapter or {}).get("text", ""), loader=name,
                        downloaded=bool((adapter or {}).get("downloaded")))
            return base  # the same model object, its target layers wrapped in place
        if name == "snapshot_download":  # huggingface_hub: a local folder holding that repository
            repo = self.value(node.args[0]) if node.args else self.value(kwargs.get("repo_id"))
            return {"kind": "text", "device": "?", "text": (repo or {}).get("text", ""), "downloaded": True}
        if name == "from_pretrained" and owner == "AutoTokenizer":
            return {"kind": "tokenizer", "device": "cpu"}
        if isinstance(func, ast.Name) and (func.id == "tokenizer" or self.names.get(func.id, {}).get("kind") ==
                                           "tokenizer"):
            return {"kind": "encoding", "device": "cpu"}
        if name in ("encode", "apply_chat_template") and isinstance(func, ast.Attribute):
            gives = "encoding" if name == "apply_chat_template" and "return_dict" in kwargs else "ids"
            return {"kind": gives, "device": "cpu"}
        if name == "device" and owner == "torch":
            return {"kind": "device", "device": self.device_of(node)}
        if not isinstance(func, ast.Attribute):
            return None
        receiver = self.value(func.value)
        if name == "generate":
            self.generate.append((node, receiver))
            return {"kind": "output", "device": "?"}
        if receiver is None:
            return None
        if name in ("to", "cuda", "cpu"):
            where = "cpu" if name == "cpu" else "cuda" if name == "cuda" else (
                self.device_of(node.args[0]) if node.args else self.device_of(kwargs.get("device")))
            receiver["device"] = where  # a model moves in place (and BatchEncoding.to returns itself)
            return receiver
        if name == "merge_and_unload" and receiver["kind"] == "peft":
            return {**receiver, "kind": "merged"}
        if name in ("eval", "half", "bfloat16", "float"):
            return receiver
        return None


def check_fixed_snippet(code: str) -> CheckResult:
    """Is the source snippet fixed? One base model with an adapter loaded the way it can be (LoRA through
    ``PeftModel.from_pretrained``, Astraios' parallel adapter through ``load_bottleneck_adapter`` from a local
    folder), generate called on the adapted model with the tokenizer's whole output on the model's device and an
    explicit max_new_tokens."""
    try:
        tree = ast.parse(code)
    except SyntaxError as err:
        return failed(f"The code does not parse: {err.msg} (line {err.lineno}).")
    snippet = _Snippet()
    snippet.run(tree.body)
    if not snippet.peft_seen:
        return failed("Keep the adapter: the snippet must still call PeftModel.from_pretrained(model, adapter) "
                      "(a LoRA adapter) or adapters.load_bottleneck_adapter(model, folder) (the parallel one).")
    if not snippet.generate:
        return failed("Call model.generate(...) on the adapted model to produce the completion.")
    call, model = snippet.generate[-1]
    who = ast.unparse(call.func.value)
    if model is not None and model["kind"] == "base" and model.get("wrapped"):
        model = {**model, "kind": "peft-in-place"}
    if model is None or model["kind"] not in ("peft", "merged", "bottleneck", "peft-in-place"):
        if snippet.reload_after_peft:
            return failed("A second AutoModelForCausalLM.from_pretrained(...) after PeftModel.from_pretrained "
                          "rebinds `model` to a fresh base model: the adapter is thrown away. Load the base once, "
                          "place it with device_map= (or .to(device)) before wrapping it.")
        if model is not None and model["kind"] == "base":
            return failed(f"generate is called on `{who}`, a plain model from AutoModelForCausalLM.from_pretrained, "
                          "so the adapter is never used: call generate on the object PeftModel.from_pretrained "
                          "returned.")
        if model is not None and model["kind"] == "peft-without-base":
            loader = model.get("loader", "PeftModel.from_pretrained")
            return failed(f"{loader}(base_model, adapter) needs the model from "
                          "AutoModelForCausalLM.from_pretrained as its first argument.")
        return failed(f"generate is called on `{who}`; call it on the object PeftModel.from_pretrained returned.")
    adapter = model.get("adapter", "")
    if model["kind"] == "bottleneck":
        if "lora" in adapter.lower():
            return failed(f"{adapter!r} is a LoRA adapter: load it with PeftModel.from_pretrained(base_model, "
                          "adapter); load_bottleneck_adapter only reads Astraios' parallel bottleneck adapters.")
        if _HUB_ID.fullmatch(adapter) and not model.get("downloaded"):
            return failed(f"load_bottleneck_adapter reads a folder on this computer, not the hub id {adapter!r}: "
                          "download it first, folder = huggingface_hub.snapshot_download(\"%s\"), and pass "
                          "the folder." % adapter)
    elif _BOTTLENECK in adapter:
        return failed(f"{adapter!r} is a parallel adapter (peft type BOTTLENECK from Astraios' fork of "
                      "peft 0.6): mainline peft cannot load it. Load it with deepcoder_lib.adapters."
                      "load_bottleneck_adapter(base_model, folder) (folder = huggingface_hub.snapshot_download"
                      "(...)), or use a LoRA adapter for the same base, e.g. Astraios' LoRA variant.")
    kwargs = {k.arg: k.value for k in call.keywords}
    inputs = None
    if None in kwargs:
        inputs = snippet.value(kwargs[None])
    elif call.args:
        inputs = snippet.value(call.args[0])
    elif "input_ids" in kwargs:
        inputs = snippet.value(kwargs["input_ids"])
    if inputs is None or inputs["kind"] not in ("encoding", "ids"):
        return failed("Pass what the tokenizer returned: inputs = tokenizer(prompt, return_tensors='pt')"
                      ".to(model.device), then model.generate(**inputs, max_new_tokens=...).")
    if "?" not in (model["device"], inputs["device"]) and model["device"] != inputs["device"]:
        return failed(f"The model is on {model['device']} but the inputs are on {inputs['device']}: generate stops "
                      "with 'Expected all tensors to be on the same device'. Load the model with "
                      "device_map=\"auto\" (or move it with .to(device)) and the inputs with .to(model.device).")
    if "max_new_tokens" not in kwargs:
        if "max_length" in kwargs:
            return failed("max_length counts the prompt too (max_length=20 is the generic default): ask for "
                          "the answer's length with max_new_tokens=... (e.g. 128).")
        return failed("generate() without a length stops after 20 new tokens (the generic default "
                      "max_length=20): pass max_new_tokens=... (e.g. 128).")
    length = kwargs["max_new_tokens"]
    if isinstance(length, ast.Constant) and isinstance(length.value, int) and length.value < 64:
        return failed(f"max_new_tokens={length.value} is barely more than the default 20: too short for a "
                      "function. Ask for 128 or more.")
    if inputs["kind"] == "ids" and "attention_mask" not in kwargs:
        return failed("Pass the tokenizer's whole output: inputs = tokenizer(prompt, return_tensors='pt') and "
                      "model.generate(**inputs, ...), so generate gets the attention_mask too.")
    kind = ("the parallel bottleneck adapter, loaded by load_bottleneck_adapter" if model["kind"] == "bottleneck"
            else "a LoRA adapter")
    note = (f" (`{who}` works because PeftModel.from_pretrained injected the adapter into it in place; calling "
            "generate on the PeftModel it returned says so, and disable_adapter()/merge_and_unload() live there.)"
            if model["kind"] == "peft-in-place" else "")
    return passed(f"Fixed: one base model with {kind}, generate on the adapted model, inputs on its device with "
                  f"their attention mask, and an explicit max_new_tokens.{note}")
