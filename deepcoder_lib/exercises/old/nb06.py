"""Instant checks for notebook 06 (bigger models and adapters). Each returns a CheckResult."""
from __future__ import annotations

import ast

from .. import catalog
from . import CheckResult, failed, passed

SMOLLM2 = {"layers": 30, "hidden": 576, "kv_out": 3 * 64}  # q_proj: 576 -> 576, v_proj: 576 -> 192


def lora_param_count(r: int, layers: int = 30, hidden: int = 576, kv_out: int = 192) -> int:
    """Trainable parameters of LoRA rank ``r`` on q_proj and v_proj: per layer r*(in+out) for each."""
    return layers * (r * (hidden + hidden) + r * (hidden + kv_out))


def check_lora_params(answer, r: int = 4) -> CheckResult:
    """How many parameters does LoRA with rank ``r`` on q_proj and v_proj train in SmolLM2-135M?"""
    expected = lora_param_count(r)
    if answer is None or isinstance(answer, bool) or not isinstance(answer, (int, float)):
        return failed(f"Give a number (an int), got {answer!r}.")
    if answer == expected:
        return passed(f"Right: 30 layers x ({r}x(576+576) + {r}x(576+192)) = {expected:,} trainable parameters, "
                      f"{100 * expected / catalog.info('smollm2').params:.2f}% of the model.")
    if answer == expected // 30:
        return failed(f"{answer:,} is one layer's worth: the adapter sits in all 30 layers.")
    if answer == 30 * r * (576 + 576) * 2:
        return failed("v_proj is smaller than q_proj: SmolLM2 has 3 key/value heads of 64, so v_proj maps "
                      "576 -> 192, not 576 -> 576.")
    if answer == 30 * 2 * 576 * 576 or answer == 30 * (576 * 576 + 576 * 192):
        return failed("That is the size of the frozen weight matrices W themselves; LoRA trains A (r x in) "
                      "and B (out x r) beside each one.")
    return failed(f"Not {answer:,}. Per targeted layer LoRA adds A with shape (r, in_features) and B with shape "
                  "(out_features, r); q_proj is 576 -> 576, v_proj 576 -> 192; 30 layers.")


def check_moe_memory(answer_gib, checkpoint: str = "deepseek-ai/DeepSeek-Coder-V2-Lite-Instruct",
                     dtype: str = "bfloat16") -> CheckResult:
    """GiB needed for the weights of ``checkpoint`` in ``dtype`` (weights alone)."""
    c = catalog.info(checkpoint)
    expected = catalog.estimate_memory(checkpoint, dtype) / catalog.GIB
    if not isinstance(answer_gib, (int, float)) or isinstance(answer_gib, bool):
        return failed(f"Give a number of GiB, got {answer_gib!r}.")
    if abs(answer_gib - expected) <= 0.05 * expected:
        return passed(f"Right: {c.params:,} parameters x {catalog.BYTES_PER_PARAM[dtype]:g} bytes = "
                      f"{expected:.1f} GiB, before the KV cache and activations.")
    active = c.active_params * catalog.BYTES_PER_PARAM[dtype] / catalog.GIB
    if abs(answer_gib - active) <= 0.05 * active:
        return failed(f"{answer_gib:.1f} GiB counts only the {c.active_params / 1e9:.1f}B *active* parameters. "
                      "A mixture-of-experts model must keep every expert in memory, because the router picks "
                      "different experts for every token: use the total parameter count.")
    gb = c.params * catalog.BYTES_PER_PARAM[dtype] / 1e9
    if abs(answer_gib - gb) <= 0.01 * gb:
        return failed(f"{answer_gib:.1f} is in GB (10^9 bytes); the question asks GiB (2^30 bytes).")
    return failed(f"Not {answer_gib}. Use catalog.info(checkpoint).params (total parameters) x bytes per "
                  f"parameter for {dtype} ({catalog.BYTES_PER_PARAM[dtype]:g}), divided by 2**30.")


def _name(call: ast.Call) -> str:
    return call.func.attr if isinstance(call.func, ast.Attribute) else getattr(call.func, "id", "")


_MODEL_LOADERS = ("AutoModelForCausalLM", "AutoModel", "GPTBigCodeForCausalLM", "LlamaForCausalLM")
_BOTTLENECK = "parallel"  # Astraios' parallel adapters are type BOTTLENECK: only its peft 0.6 fork loads them


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
            return {"kind": "peft" if base and base["kind"] == "base" else "peft-without-base",
                    "device": (base or {}).get("device", "?"), "adapter": (adapter or {}).get("text", ""),
                    "line": node.lineno}
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
    """Is the source snippet fixed? One base model, wrapped by a loadable adapter, generate called on that
    wrapped model with the tokenizer's whole output on the model's device and an explicit max_new_tokens."""
    try:
        tree = ast.parse(code)
    except SyntaxError as err:
        return failed(f"The code does not parse: {err.msg} (line {err.lineno}).")
    snippet = _Snippet()
    snippet.run(tree.body)
    if not snippet.peft_seen:
        return failed("Keep the adapter: the snippet must still call PeftModel.from_pretrained(model, adapter).")
    if not snippet.generate:
        return failed("Call model.generate(...) on the adapted model to produce the completion.")
    call, model = snippet.generate[-1]
    who = ast.unparse(call.func.value)
    if model is None or model["kind"] not in ("peft", "merged"):
        if snippet.reload_after_peft:
            return failed("A second AutoModelForCausalLM.from_pretrained(...) after PeftModel.from_pretrained "
                          "rebinds `model` to a fresh base model: the adapter is thrown away. Load the base once, "
                          "place it with device_map= (or .to(device)) before wrapping it.")
        if model is not None and model["kind"] == "base":
            return failed(f"generate is called on `{who}`, a plain model from AutoModelForCausalLM.from_pretrained, "
                          "so the adapter is never used: call generate on the object PeftModel.from_pretrained "
                          "returned.")
        if model is not None and model["kind"] == "peft-without-base":
            return failed("PeftModel.from_pretrained(base_model, adapter) needs the model from "
                          "AutoModelForCausalLM.from_pretrained as its first argument.")
        return failed(f"generate is called on `{who}`; call it on the object PeftModel.from_pretrained returned.")
    if _BOTTLENECK in model.get("adapter", ""):
        return failed(f"{model['adapter']!r} is a parallel adapter (peft type BOTTLENECK from Astraios' fork of "
                      "peft 0.6): the peft installed here cannot load it. Use a LoRA adapter for the same base, "
                      "e.g. Astraios' LoRA variant.")
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
    return passed("Fixed: one base model wrapped by a LoRA adapter, generate on the adapted model, inputs on its "
                  "device with their attention mask, and an explicit max_new_tokens.")
