"""Load an Astraios *parallel bottleneck adapter* onto a mainline transformers model, without the fork of peft.

Astraios (bigcode/astraios-7b-parallel and its siblings) trained adapters with its own fork of peft 0.6
(``peft_type: "BOTTLENECK"``), which mainline peft cannot load. The parallel variant is small enough to
state in one line: for each target linear layer ``W``,

    output = W(x) + scaling * up(act(down(x)))      (the adapter branch in float32, cast back)

with ``down``: in_features -> bottleneck_size and ``up``: bottleneck_size -> out_features, both without
bias. ``load_bottleneck_adapter`` reads the fork's own folder layout (adapter_config.json plus
adapter_model.bin or adapter_model.safetensors, weights named ``<module>.adapter_down.weight`` /
``<module>.adapter_up.weight``, optionally prefixed ``base_model.model.``) and wraps the target layers
in place; ``check_bottleneck_adapter`` runs the same checks without changing the model, and
``write_parallel_adapter`` writes a random adapter in that layout (to show the code path offline).
The sequential variants (AdapterH ``mh_adapter``/``output_adapter``, AdapterP) are refused.
``adapters.py`` handles LoRA through mainline peft; this module is only the fork's parallel adapter.
"""
from __future__ import annotations

import contextlib
import json
import re
from pathlib import Path

import torch
from torch import nn

from .checks import positive_int

NON_LINEARITIES = ("tanh", "relu", "gelu", "gelu_new", "silu", "sigmoid", "identity")
WEIGHT_FILES = ("adapter_model.safetensors", "adapter_model.bin")
_KEY = re.compile(r"(?:base_model\.model\.)?(.+)\.adapter_(down|up)\.weight")


def _activation(name: str):
    from transformers.activations import ACT2FN
    if name == "identity":
        return nn.Identity()
    return ACT2FN[name]


class ParallelAdapterLinear(nn.Module):
    """``base(x) + scaling * up(act(down(x)))``; the branch runs in float32 and is cast to base's output dtype."""

    def __init__(self, base: nn.Linear, down: torch.Tensor, up: torch.Tensor, non_linearity: str, scaling: float):
        super().__init__()
        self.base = base
        self.adapter_down = nn.Linear(down.shape[1], down.shape[0], bias=False, dtype=torch.float32,
                                      device=base.weight.device)
        self.adapter_up = nn.Linear(up.shape[1], up.shape[0], bias=False, dtype=torch.float32,
                                    device=base.weight.device)
        with torch.no_grad():
            self.adapter_down.weight.copy_(down)
            self.adapter_up.weight.copy_(up)
        self.non_linearity = non_linearity
        self.act_fn = _activation(non_linearity)
        self.scaling = float(scaling)
        self.enabled = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        result = self.base(x)
        if not self.enabled:
            return result
        branch = self.adapter_up(self.act_fn(self.adapter_down(x.float()))) * self.scaling
        return result + branch.to(result.dtype)


def _fail(message: str):
    raise ValueError(message)


def _read_config(folder: Path) -> dict:
    path = folder / "adapter_config.json"
    if not path.is_file():
        _fail(f"`adapter_path` {str(folder)!r} has no adapter_config.json; it holds "
              f"{sorted(p.name for p in folder.iterdir())}. An Astraios adapter folder has adapter_config.json "
              f"and one of {list(WEIGHT_FILES)}.")
    config = json.loads(path.read_text())
    if config.get("peft_type") not in (None, "BOTTLENECK"):
        _fail(f"`adapter_path` holds a {config.get('peft_type')!r} adapter, not an Astraios BOTTLENECK one; "
              "load LoRA and other mainline peft adapters with adapters.load_adapter")
    if config.get("use_adapterp"):
        _fail("`use_adapterp` is true in adapter_config.json: AdapterP (a sequential adapter after the MLP) is not "
              "supported; only the parallel adapter (use_parallel_adapter: true) can be loaded here")
    if not config.get("use_parallel_adapter"):
        _fail(f"`use_parallel_adapter` is {config.get('use_parallel_adapter')!r} in adapter_config.json: sequential "
              "bottleneck adapters (AdapterH) are not supported; only the parallel adapter can be loaded here")
    if config.get("bias", "none") != "none":
        _fail(f"`bias` is {config.get('bias')!r} in adapter_config.json: adapters that also retrain the base "
              "layers' biases are not supported; only bias 'none' (the default) can be loaded here")
    act = config.get("non_linearity", "tanh")
    if act not in NON_LINEARITIES:
        _fail(f"`non_linearity` must be one of {', '.join(NON_LINEARITIES)}, got {act!r} in adapter_config.json")
    scaling = config.get("scaling", 1.0)
    if isinstance(scaling, str) or not isinstance(scaling, (int, float)):
        _fail(f"`scaling` must be a number, got {scaling!r}; a 'learned' scaling is stored with the weights, "
              "which this loader does not read")
    targets = config.get("target_modules")
    if isinstance(targets, str):
        targets = [targets]
    if not targets:
        _fail(f"`target_modules` is {config.get('target_modules')!r} in adapter_config.json; it must list the "
              "module names the adapter wraps, e.g. ['c_attn']")
    config = dict(config, non_linearity=act, scaling=float(scaling), target_modules=list(targets))
    return config


def _read_weights(folder: Path) -> dict[str, torch.Tensor]:
    if (folder / "adapter_model.safetensors").is_file():
        from safetensors.torch import load_file
        return load_file(folder / "adapter_model.safetensors")
    if (folder / "adapter_model.bin").is_file():
        return torch.load(folder / "adapter_model.bin", map_location="cpu", weights_only=True)
    _fail(f"`adapter_path` {str(folder)!r} has no weights: expected one of {list(WEIGHT_FILES)}")


def _plan(base_model: nn.Module, adapter_path) -> tuple[dict, list[str], dict]:
    """Read and check the folder against ``base_model``: (config, target layer names, their down/up weights)."""
    folder = Path(str(adapter_path)).expanduser()
    if not folder.is_dir():
        _fail(f"`adapter_path` {str(adapter_path)!r} is not a folder on this computer; download the adapter "
              "(e.g. huggingface-cli download bigcode/astraios-7b-parallel --local-dir DIR) and pass DIR")
    config = _read_config(folder)
    pairs: dict[str, dict[str, torch.Tensor]] = {}
    for key, tensor in _read_weights(folder).items():
        match = _KEY.fullmatch(key)
        if match:
            pairs.setdefault(match.group(1), {})[match.group(2)] = tensor
    modules = dict(base_model.named_modules())
    targets = config["target_modules"]
    wanted = [name for name, module in modules.items()
              if isinstance(module, nn.Linear) and any(name == t or name.endswith("." + t) for t in targets)]
    if not wanted:
        _fail(f"`target_modules` {targets} in adapter_config.json match no linear layer of this "
              f"{type(base_model).__name__}; was the adapter trained for another base model?")
    missing = [name for name in wanted if set(pairs.get(name, ())) != {"down", "up"}]
    extra = sorted(set(pairs) - set(wanted))
    if missing or extra:
        _fail(f"`adapter_path` weights do not fit `target_modules` {targets}: no adapter_down/adapter_up for "
              f"{missing[:3]}{' ...' if len(missing) > 3 else ''}, weights for unknown modules {extra[:3]}")
    size = config.get("bottleneck_size")
    for name in wanted:
        layer, down, up = modules[name], pairs[name]["down"], pairs[name]["up"]
        expected = {"down": (size or down.shape[0], layer.in_features), "up": (layer.out_features, size or down.shape[0])}
        if tuple(down.shape) != expected["down"] or tuple(up.shape) != expected["up"]:
            _fail(f"`adapter_path` shapes do not fit {name} ({layer.in_features} -> {layer.out_features}, "
                  f"bottleneck_size {size}): adapter_down {tuple(down.shape)}, adapter_up {tuple(up.shape)}; "
                  "the adapter was trained for another base model")
    return config, wanted, pairs


def check_bottleneck_adapter(base_model: nn.Module, adapter_path) -> dict:
    """Check, without changing ``base_model``, that ``load_bottleneck_adapter`` can load this folder; its summary.

    Raises ValueError naming what is wrong (the same checks as loading).
    """
    config, wanted, pairs = _plan(base_model, adapter_path)
    size = config.get("bottleneck_size") or next(iter(pairs.values()))["down"].shape[0]
    return {"peft_type": "BOTTLENECK", "base_model_name_or_path": config.get("base_model_name_or_path"),
            "bottleneck_size": size, "non_linearity": config["non_linearity"], "scaling": config["scaling"],
            "target_modules": config["target_modules"], "modules": len(wanted),
            "parameters": sum(t.numel() for name in wanted for t in pairs[name].values()),
            "loader": "deepcoder_lib.adapters.load_bottleneck_adapter"}


def load_bottleneck_adapter(base_model: nn.Module, adapter_path) -> nn.Module:
    """Wrap ``base_model``'s target linear layers with the parallel adapter in ``adapter_path``; return the model.

    The model is changed in place (its layers become ``ParallelAdapterLinear``); ``disable_bottleneck(model)``
    switches the adapter branches off for a block. Raises ValueError naming what is wrong with the folder.
    """
    config, wanted, pairs = _plan(base_model, adapter_path)
    modules = dict(base_model.named_modules())
    for name in wanted:
        parent_name, _, child = name.rpartition(".")
        parent = base_model.get_submodule(parent_name) if parent_name else base_model
        setattr(parent, child, ParallelAdapterLinear(modules[name], pairs[name]["down"], pairs[name]["up"],
                                                     config["non_linearity"], config["scaling"]))
    base_model.bottleneck_config = config
    return base_model


def write_parallel_adapter(model: nn.Module, folder, *, target_modules=("c_attn",), bottleneck_size: int = 16,
                           non_linearity: str = "tanh", scaling: float = 1.0, std: float = 0.05, seed: int = 0,
                           weights_format: str = "bin", base_model_name_or_path: str | None = None) -> Path:
    """Write a RANDOM parallel bottleneck adapter for ``model`` in the layout of Astraios' fork; return ``folder``.

    adapter_config.json (peft_type BOTTLENECK, bottleneck_size, non_linearity, use_parallel_adapter,
    scaling, target_modules, ...) and adapter_model.bin (``torch.save``, the fork's format) or
    adapter_model.safetensors, weights keyed ``base_model.model.<module>.adapter_down.weight`` /
    ``.adapter_up.weight``. Both matrices are drawn from N(0, std^2) with ``seed``: the fork starts
    ``adapter_up`` at zero, so a fresh adapter would change nothing; random ones make the branch visible.
    For showing the loading code path offline; an adapter that has learned anything comes from training.
    """
    if weights_format not in ("bin", "safetensors"):
        raise ValueError(f"`weights_format` must be 'bin' or 'safetensors', got {weights_format!r}")
    if non_linearity not in NON_LINEARITIES:
        raise ValueError(f"`non_linearity` must be one of {', '.join(NON_LINEARITIES)}, got {non_linearity!r}")
    positive_int(bottleneck_size, "bottleneck_size", "the fork's default is 256")
    targets = [target_modules] if isinstance(target_modules, str) else list(target_modules)
    generator = torch.Generator().manual_seed(seed)
    weights = {}
    for name, module in model.named_modules():
        if isinstance(module, nn.Linear) and any(name == t or name.endswith("." + t) for t in targets):
            prefix = f"base_model.model.{name}"
            weights[f"{prefix}.adapter_down.weight"] = torch.randn(bottleneck_size, module.in_features,
                                                                   generator=generator) * std
            weights[f"{prefix}.adapter_up.weight"] = torch.randn(module.out_features, bottleneck_size,
                                                                 generator=generator) * std
    if not weights:
        raise ValueError(f"`target_modules` {targets} match no linear layer of this {type(model).__name__}")
    folder = Path(folder).expanduser()
    folder.mkdir(parents=True, exist_ok=True)
    config = {"peft_type": "BOTTLENECK", "task_type": "CAUSAL_LM",
              "base_model_name_or_path": base_model_name_or_path or getattr(model.config, "_name_or_path", None),
              "bottleneck_size": bottleneck_size, "non_linearity": non_linearity, "adapter_dropout": 0.0,
              "use_parallel_adapter": True, "use_adapterp": False, "scaling": float(scaling),
              "target_modules": targets, "bias": "none", "inference_mode": True}
    (folder / "adapter_config.json").write_text(json.dumps(config, indent=2))
    if weights_format == "bin":
        torch.save(weights, folder / "adapter_model.bin")
    else:
        from safetensors.torch import save_file
        save_file(weights, folder / "adapter_model.safetensors")
    return folder


def adapter_layers(model: nn.Module) -> list[ParallelAdapterLinear]:
    return [m for m in model.modules() if isinstance(m, ParallelAdapterLinear)]


def set_bottleneck_enabled(model: nn.Module, enabled: bool) -> None:
    layers = adapter_layers(model)
    if not layers:
        raise ValueError("`model` has no bottleneck adapter layers; load one with load_bottleneck_adapter first")
    for layer in layers:
        layer.enabled = bool(enabled)


@contextlib.contextmanager
def disable_bottleneck(model: nn.Module):
    """``with disable_bottleneck(model):`` runs the base model alone; the adapter comes back afterwards."""
    set_bottleneck_enabled(model, False)
    try:
        yield model
    finally:
        set_bottleneck_enabled(model, True)
