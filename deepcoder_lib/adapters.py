"""LoRA adapters, hands on: attach, train a tiny one on CPU, save, load back with clear errors, compare.

A LoRA adapter leaves every weight of the base model frozen and learns, for a few chosen linear
layers ("target modules"), a low-rank update: ``W x`` becomes ``W x + (lora_alpha / r) * B (A x)``
with ``A`` of shape (r, in_features) and ``B`` of shape (out_features, r). peft does the work;
this module adds what a course needs around it: the course's tiny dataset, a short training loop
with a progress bar, a loss plot, base-vs-adapter comparisons, and a pre-flight check
(``check_adapter``) that turns peft's obscure failures into errors naming the problem.
``models.py`` loads base models; ``catalog.py`` holds the big-model figures.
"""
from __future__ import annotations

import json
import re
import warnings
from pathlib import Path

from .bottleneck import load_bottleneck_adapter  # noqa: F401  (public here: Astraios' parallel adapter)
from .checks import positive_int, whole_number
from .inputs import has_chat_template, input_device, pad_id, prepare_inputs
from .decoding import Decoding
from .local import generate_kwargs, prompt_for
from .prompts import with_answer_start

# peft 0.21.2 (the newest release) reads `model.is_gradient_checkpointing` every time it wraps a model, a
# property transformers 5.23 deprecated in favour of `is_activation_checkpointing`: one FutureWarning per
# PeftModel that no argument of ours can avoid. Ignore exactly that message until peft catches up.
warnings.filterwarnings("ignore", message="`is_gradient_checkpointing` is deprecated", category=FutureWarning,
                        module="transformers.modeling_utils")

DATASET_PATH = Path(__file__).parent / "data" / "lora_dataset.json"
ADAPTER_FILES = ("adapter_config.json", "adapter_model.safetensors")


class AdapterError(ValueError):
    """An adapter folder that cannot be used with this base model; the message says why."""


def load_dataset(path: str | Path = DATASET_PATH) -> dict:
    """The course's tiny dataset: ``{"train": [{"request", "response"}, ...], "held_out": [str, ...]}``."""
    return json.loads(Path(path).read_text(encoding="utf-8"))


def linear_layer_names(model) -> list[str]:
    """Short names of the model's linear layers (what ``target_modules`` can name), sorted, unique."""
    import torch
    return sorted({name.rsplit(".", 1)[-1] for name, module in model.named_modules()
                   if isinstance(module, torch.nn.Linear) and name})


def count_parameters(model) -> dict:
    """``{"trainable", "total", "percent"}``: what peft's print_trainable_parameters() prints, as numbers."""
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    return {"trainable": trainable, "total": total, "percent": 100 * trainable / total}


def add_lora(model, *, r: int = 8, lora_alpha: int = 16, target_modules=("q_proj", "v_proj"),
             lora_dropout: float = 0.0):
    """Wrap ``model`` with a fresh LoRA adapter (peft's ``get_peft_model``); returns the PeftModel.

    Every name in ``target_modules`` must name a linear layer of the model: peft only refuses a list
    where *no* name matches, and silently skips the others.
    """
    from peft import LoraConfig, get_peft_model
    positive_int(r, "r", "it is the rank; 4 to 16 is typical")
    names = [target_modules] if isinstance(target_modules, str) else list(target_modules)
    available = linear_layer_names(model)
    missing = [n for n in names if n not in available]
    if missing:
        raise AdapterError(
            f"`target_modules` {missing} name no layer of this {type(model).__name__}; its linear layers are "
            f"named {available}. Names differ per architecture: GPT-2/StarCoder fuse attention into 'c_attn', "
            "Llama/Qwen/SmolLM2 use 'q_proj', 'k_proj', 'v_proj', 'o_proj'.")
    config = LoraConfig(r=r, lora_alpha=lora_alpha, target_modules=names, lora_dropout=lora_dropout,
                        task_type="CAUSAL_LM")
    return get_peft_model(model, config)


def build_examples(tokenizer, rows: list[dict]) -> list[dict]:
    """Chat-format each ``{"request", "response"}`` (no chat template: the plain request); labels are -100 on the
    prompt, so only the answer is learned."""
    examples = []
    for row in rows:  # the prompt generate_code would send: chat-templated, or the plain request for a base model
        prompt_ids = prepare_inputs(tokenizer, prompt_for(tokenizer, row["request"]))["input_ids"][0].tolist()
        answer_ids = tokenizer(row["response"] + tokenizer.eos_token, add_special_tokens=False)["input_ids"]
        examples.append({"input_ids": prompt_ids + answer_ids, "labels": [-100] * len(prompt_ids) + answer_ids})
    return examples


def collate(examples: list[dict], pad_token_id: int) -> dict:
    """One batch of ``build_examples`` rows as tensors, right-padded; the padding is masked out of attention and loss."""
    import torch
    width = max(len(e["input_ids"]) for e in examples)
    pad = [width - len(e["input_ids"]) for e in examples]
    return {"input_ids": torch.tensor([e["input_ids"] + [pad_token_id] * p for e, p in zip(examples, pad)]),
            "attention_mask": torch.tensor([[1] * len(e["input_ids"]) + [0] * p for e, p in zip(examples, pad)]),
            "labels": torch.tensor([e["labels"] + [-100] * p for e, p in zip(examples, pad)])}


def training_batches(tokenizer, rows: list[dict], *, steps: int, batch_size: int = 4, seed: int = 0) -> list[dict]:
    """The batches ``train_lora`` trains on, in its order: the rows cycled in a seeded shuffled order, ``collate``d."""
    import torch

    positive_int(steps, "steps", "e.g. 30")
    positive_int(batch_size, "batch_size", "e.g. 4")
    if not rows:
        raise ValueError("`rows` is empty: give at least one {'request': ..., 'response': ...} example")
    examples = build_examples(tokenizer, rows)
    generator = torch.Generator().manual_seed(seed)
    order = []
    while len(order) < steps * batch_size:
        order += torch.randperm(len(examples), generator=generator).tolist()
    return [collate([examples[i] for i in order[step * batch_size:(step + 1) * batch_size]], pad_id(tokenizer=tokenizer))
            for step in range(steps)]


def train_lora(peft_model, tokenizer, rows: list[dict], *, steps: int = 24, batch_size: int = 4,
               learning_rate: float = 2e-3, seed: int = 0, progress: bool = True, optimizer=None,
               start_step: int = 0) -> list[float]:
    """Train the adapter's parameters with AdamW for steps ``start_step`` .. ``steps - 1``; returns each step's loss.

    Each step is the one notebook 13 writes out: forward with labels, backward, ``optimizer.step()``,
    ``optimizer.zero_grad()``, on ``training_batches`` (the rows cycled in a seeded shuffled order). Only
    parameters with ``requires_grad`` (the LoRA matrices) are updated; the base model stays frozen. To go on
    after steps taken by hand, pass their ``optimizer`` (AdamW keeps running averages) and ``start_step``.
    """
    import torch
    from tqdm.auto import tqdm

    whole_number(start_step, "start_step", minimum=0, maximum=max(int(steps), 1) - 1,
                 hint="it counts the steps already taken, from 0 to steps - 1")
    batches = training_batches(tokenizer, rows, steps=steps, batch_size=batch_size, seed=seed)[start_step:]
    if optimizer is None:
        optimizer = torch.optim.AdamW([p for p in peft_model.parameters() if p.requires_grad], lr=learning_rate)
    device = input_device(peft_model)
    peft_model.train()
    losses = []
    bar = tqdm(batches, desc="LoRA training", disable=not progress)
    for batch in bar:
        loss = peft_model(**{k: v.to(device) for k, v in batch.items()}).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        losses.append(loss.item())
        bar.set_postfix(loss=f"{losses[-1]:.3f}")
    peft_model.eval()
    return losses


def plot_loss(losses: list[float], ax=None):
    """Training loss per step (mean cross-entropy over the answer tokens, in nats). Returns the Axes."""
    import matplotlib.pyplot as plt
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.2))
    ax.plot(range(1, len(losses) + 1), losses, marker="o", markersize=3)
    ax.set_xlabel("training step (one batch)")
    ax.set_ylabel("loss (cross-entropy, nats/token)")
    ax.set_title("LoRA training loss on the course dataset")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    return ax


def save_adapter(peft_model, folder: str | Path) -> list[str]:
    """``peft_model.save_pretrained(folder)``; returns the file names written (adapter only, no base weights)."""
    folder = Path(folder)
    peft_model.save_pretrained(folder)
    return sorted(p.name for p in folder.iterdir())


def _adapter_tensors(path: Path) -> dict[str, list[int]]:
    """Tensor name -> shape, read from the safetensors header without loading any weights."""
    with path.open("rb") as f:
        header = json.loads(f.read(int.from_bytes(f.read(8), "little")))
    return {k: v["shape"] for k, v in header.items() if k != "__metadata__"}


def check_adapter(base_model, adapter_path: str | Path) -> dict:
    """Check that ``adapter_path`` holds an adapter this base model can take; return its summary.

    Raises ``AdapterError`` naming the problem: a missing folder or file, an adapter type this peft
    does not implement, target modules the base model does not have, or weight shapes of another
    base model. Reads only JSON and the safetensors header: nothing is loaded. An Astraios parallel
    bottleneck adapter (peft type BOTTLENECK) is checked by ``bottleneck.check_bottleneck_adapter``
    (which reads its weights): its summary's ``loader`` names ``load_bottleneck_adapter``.
    """
    from peft import PeftType
    folder = Path(str(adapter_path)).expanduser()
    if not folder.is_dir():
        hub_like = re.fullmatch(r"[\w.-]+/[\w.-]+", str(adapter_path)) is not None
        raise AdapterError(
            f"`adapter_path` {str(adapter_path)!r} is not a folder on this computer. "
            + ("It looks like a hub id: downloading it needs the network (PeftModel.from_pretrained fetches it "
               "when online). " if hub_like else "Check the spelling, or save an adapter there first with "
                                                 "peft_model.save_pretrained(path). "))
    present = sorted(p.name for p in folder.iterdir())
    config_path = folder / "adapter_config.json"
    config = json.loads(config_path.read_text()) if config_path.is_file() else {}
    peft_type = str(config.get("peft_type"))
    if peft_type == "BOTTLENECK":  # Astraios' fork of peft 0.6: its parallel variant loads through bottleneck.py
        from .bottleneck import check_bottleneck_adapter
        try:
            return check_bottleneck_adapter(base_model, folder)
        except ValueError as err:
            raise AdapterError(
                f"adapter type 'BOTTLENECK' in {config_path} comes from Astraios' fork of peft 0.6, which mainline "
                f"peft does not implement. Only its parallel adapter (use_parallel_adapter: true, e.g. "
                f"bigcode/astraios-7b-parallel) loads without the fork, with "
                f"deepcoder_lib.adapters.load_bottleneck_adapter(base_model, adapter_path), and this one cannot: "
                f"{err}") from None
    for name in ADAPTER_FILES:
        if not (folder / name).is_file():
            raise AdapterError(f"adapter folder {str(folder)!r} has no {name}; it holds {present}. An adapter "
                               f"folder needs {list(ADAPTER_FILES)} (what peft_model.save_pretrained writes).")
    if peft_type not in PeftType.__members__:
        raise AdapterError(
            f"adapter type {peft_type!r} in {config_path} is not implemented by the installed peft; load it with "
            "the peft that made it, or use a LoRA adapter.")
    modules = dict(base_model.named_modules())
    trained_for = "another base model" + (f" ({config['base_model_name_or_path']!r})"
                                          if config.get("base_model_name_or_path") else "")
    summary = {"peft_type": peft_type, "base_model_name_or_path": config.get("base_model_name_or_path"),
               "r": config.get("r"), "target_modules": config.get("target_modules"), "modules": 0}
    for key, shape in _adapter_tensors(folder / "adapter_model.safetensors").items():
        match = re.fullmatch(r"(?:base_model\.model\.)?(.+)\.lora_([AB])\.weight", key)
        if not match:
            continue
        name, which = match.groups()
        layer = modules.get(name) or modules.get(f"base_model.model.{name}")
        if layer is None:
            raise AdapterError(
                f"adapter's target module {name!r} does not exist in this {type(base_model).__name__}: the "
                f"adapter targets {config.get('target_modules')}, this model's linear layers are named "
                f"{linear_layer_names(base_model)}. It was trained for {trained_for}.")
        layer = getattr(layer, "base_layer", layer)
        expected = [shape[0], layer.in_features] if which == "A" else [layer.out_features, shape[1]]
        if list(shape) != expected:
            side = "inputs" if which == "A" else "outputs"
            raise AdapterError(
                f"adapter was trained for {trained_for}: "
                f"its lora_{which} for {name!r} has shape {list(shape)}, which expects "
                f"{shape[1] if which == 'A' else shape[0]} {side}, but this model's layer has "
                f"{expected[1] if which == 'A' else expected[0]}. Load it on the base model it was trained on.")
        summary["modules"] += which == "A"
    return summary


def load_adapter(base_model, adapter_path: str | Path):
    """``check_adapter`` then ``PeftModel.from_pretrained(base_model, adapter_path)``, in eval mode."""
    from peft import PeftModel
    if check_adapter(base_model, adapter_path)["peft_type"] == "BOTTLENECK":
        raise AdapterError(f"{str(adapter_path)!r} is an Astraios parallel bottleneck adapter, which mainline peft "
                           "cannot load: use deepcoder_lib.adapters.load_bottleneck_adapter(base_model, adapter_path)")
    return PeftModel.from_pretrained(base_model, str(Path(str(adapter_path)).expanduser())).eval()


def chat_inputs(tokenizer, request: str, assistant_prefix: str = "", *, model=None) -> dict:
    """Model inputs (input_ids + attention_mask) for one user request, optionally with the answer's start,
    on ``model``'s input device (``generation.prepare_inputs``, the course's one path to model inputs)."""
    if not has_chat_template(tokenizer):  # a base model (StarCoderBase): the request and the answer's start, as text
        return prepare_inputs(tokenizer, request + assistant_prefix, model=model, name="request")
    return prepare_inputs(tokenizer, with_answer_start(request, assistant_prefix), model=model, name="request")


def compare_outputs(peft_model, tokenizer, requests: list[str], max_new_tokens: int = 64) -> list[dict]:
    """Greedy answers to each request from the base model (adapter disabled) and with the adapter."""
    import torch

    rows = []
    for request in requests:
        inputs = chat_inputs(tokenizer, request, model=peft_model)
        greedy = generate_kwargs(peft_model, inputs, Decoding(max_new_tokens=max_new_tokens).generate_kwargs())
        answers = {}
        with torch.no_grad():
            with peft_model.disable_adapter():
                answers["base"] = peft_model.generate(**inputs, **greedy)
            answers["adapter"] = peft_model.generate(**inputs, **greedy)
        start = inputs["input_ids"].shape[1]
        rows.append({"request": request, **{k: tokenizer.decode(v[0, start:], skip_special_tokens=True)
                                            for k, v in answers.items()}})
    return rows


def house_style(answer: str) -> dict:
    """Does the first ``def`` in ``answer`` carry type hints (``->``) and a docstring right after it?"""
    match = re.search(r"def \w+\(.*?\)\s*(->\s*[^:]+)?:\s*\n\s*(\"\"\"|''')?", answer)
    return {"type_hints": bool(match and match.group(1)), "docstring": bool(match and match.group(2))}


def next_token_probs(peft_model, tokenizer, request: str, assistant_prefix: str = "", n: int = 8) -> list[dict]:
    """Top next tokens after the prompt, base (adapter disabled) vs adapter, as probabilities.

    Rows cover the union of both top-``n`` lists, sorted by the larger of the two probabilities.
    """
    import torch
    inputs = chat_inputs(tokenizer, request, assistant_prefix, model=peft_model)
    with torch.no_grad():
        with peft_model.disable_adapter():
            base = peft_model(**inputs).logits[0, -1].float().softmax(-1).cpu()
        adapted = peft_model(**inputs).logits[0, -1].float().softmax(-1).cpu()
    ids = dict.fromkeys(adapted.topk(n).indices.tolist() + base.topk(n).indices.tolist())
    rows = [{"token": tokenizer.decode([i]), "token_id": i, "base": base[i].item(), "adapter": adapted[i].item()}
            for i in ids]
    return sorted(rows, key=lambda row: -max(row["base"], row["adapter"]))


def plot_next_token_probs(rows: list[dict], ax=None, title: str = "next-token probabilities"):
    """Grouped bars: base vs adapter probability (after softmax, no filtering) per candidate token."""
    import matplotlib.pyplot as plt
    import numpy as np
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 3.2))
    x = np.arange(len(rows))
    ax.bar(x - 0.2, [r["base"] for r in rows], width=0.4, label="base (adapter disabled)")
    ax.bar(x + 0.2, [r["adapter"] for r in rows], width=0.4, label="with LoRA adapter")
    from .plots import drawable
    ax.set_xticks(x, [drawable(repr(r["token"]), "sans-serif") for r in rows], rotation=45, ha="right")
    ax.set_xlabel("candidate next token")
    ax.set_ylabel("probability (softmax of raw logits)")
    ax.set_title(title)
    ax.legend(loc="center right")
    return ax


def merge_and_compare(peft_model, inputs: dict):
    """Logits with the adapter, then ``merge_and_unload()`` and logits of the merged plain model.

    Returns ``(merged_model, max_abs_diff)``. Merging writes ``W + (alpha/r) B A`` into the base
    weights *in place*: the base model object passed to peft is changed for good.
    """
    import torch
    with torch.no_grad():
        adapter_logits = peft_model(**inputs).logits
        merged = peft_model.merge_and_unload()
        merged_logits = merged(**inputs).logits
    return merged, (adapter_logits - merged_logits).abs().max().item()
