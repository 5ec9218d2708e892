"""Run a learner's version of the course's source snippet with stand-ins for the hub, and record what it did.

The source snippet loads ``bigcode/starcoderbase-7b`` with an Astraios adapter on a GPU. Neither the 15 GB model
nor a GPU is here, so ``run_snippet`` executes the learner's code for real (every line, branch, loop and variable)
in a namespace where ``AutoModelForCausalLM``, ``AutoTokenizer``, ``PeftModel``, ``snapshot_download`` and
``load_bottleneck_adapter`` are light stand-ins that behave as the real ones do where it matters (which model a
name holds, which adapter is attached to it, the device of the model and of the inputs) and record each load and
each ``generate`` call; ``torch.cuda.is_available()`` says True (the snippet is for a machine with one GPU).
A stand-in refuses what the real library would refuse (a parallel adapter through mainline peft, an adapter
trained for another base model) with a ``SnippetProblem`` that says why. ``exercises.nb14`` turns the record into
a verdict. Nothing is downloaded and no model is built.
"""
from __future__ import annotations

import builtins
import contextlib
import io
import re
import types

import torch

HUB_ID = re.compile(r"^[\w.-]+/[\w.-]+$")
ASTRAIOS = re.compile(r"^bigcode/astraios-(1b|3b|7b|15b)-(\w+)$")
GPU_DEVICES = ("cuda", "auto", "balanced", "balanced_low_0", "sequential")
TIME_LIMIT_S = 5.0  # the stand-ins answer at once: a snippet still running after this loops forever


class SnippetProblem(Exception):
    """What the real library would refuse, said for the learner."""


def astraios_base(adapter: str) -> str | None:
    """The base model an Astraios adapter was trained on (None when the name does not tell)."""
    match = ASTRAIOS.match(adapter)
    if not match:
        return None
    size = match.group(1)
    return "bigcode/starcoderbase" if size == "15b" else f"bigcode/starcoderbase-{size}"


def adapter_kind(adapter: str) -> str:
    """"lora", "parallel" or "other", from an Astraios repository or folder name."""
    name = str(adapter).rstrip("/").rsplit("/", 1)[-1].lower()
    return "parallel" if "parallel" in name else "lora" if "lora" in name else "other"


def _device(value) -> str:
    """'cuda:0', 0, 'auto', torch.device('cuda') -> 'cuda'; 'cpu' -> 'cpu'; anything else -> '?'."""
    if isinstance(value, torch.device):
        value = value.type
    if isinstance(value, int) and not isinstance(value, bool):
        return "cuda"
    if isinstance(value, dict):  # device_map={"": 0}: one device for everything
        places = {_device(v) for v in value.values()}
        return places.pop() if len(places) == 1 else "?"
    if isinstance(value, str):
        return "cuda" if value.startswith("cuda") or value in GPU_DEVICES else value
    return "?"


class Folder(str):
    """A local folder, as snapshot_download returns it, remembering the repository it holds."""
    repo: str = ""


class Record:
    def __init__(self):
        self.loads: list[Model] = []
        self.generates: list[dict] = []
        self.adapters: list[tuple[Model, str, str]] = []  # (model, adapter, loader)
        self.names: dict = {}


class Tensor:
    def __init__(self, device="cpu"):
        self.device = torch.device(device if device in ("cpu", "cuda") else "cpu")
        self.shape = (1, 7)

    def to(self, *args, **kwargs):
        where = _device(args[0] if args else kwargs.get("device", "cpu"))
        return Tensor(where) if where in ("cpu", "cuda") else self

    def cuda(self, *args, **kwargs):
        return Tensor("cuda")

    def cpu(self):
        return Tensor("cpu")

    def __getitem__(self, item):
        return self

    def tolist(self):
        return [1, 2, 3]


class Encoding(dict):
    """tokenizer(...): input_ids and attention_mask; .to() moves both and returns itself (as BatchEncoding does)."""

    def to(self, *args, **kwargs):
        for key in list(self):
            self[key] = self[key].to(*args, **kwargs)
        return self

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


class Tokenizer:
    eos_token_id = pad_token_id = 0
    eos_token = "<|endoftext|>"

    def __call__(self, text, *args, **kwargs):
        return Encoding(input_ids=Tensor(), attention_mask=Tensor())

    def encode(self, text, *args, **kwargs):
        return Tensor()

    def decode(self, *args, **kwargs):
        return "def print_hello_world():\n    print('Hello, world!')"

    def batch_decode(self, *args, **kwargs):
        return [self.decode()]

    def apply_chat_template(self, *args, return_dict=False, **kwargs):
        return self(None) if return_dict else Tensor()


class Model:
    """A base model from AutoModelForCausalLM.from_pretrained; ``adapter`` is set when one is attached in place."""

    def __init__(self, record: Record, checkpoint, device: str, order: int):
        self.record, self.checkpoint, self._device, self.order = record, str(checkpoint), device, order
        self.adapter = None
        self.loader = None
        self.merged = False

    @property
    def device(self):
        return torch.device(self._device if self._device in ("cpu", "cuda") else "cpu")

    def to(self, *args, **kwargs):
        where = _device(args[0] if args else kwargs.get("device", "cpu"))
        if where in ("cpu", "cuda"):
            self._device = where
        return self

    def cuda(self, *args, **kwargs):
        self._device = "cuda"
        return self

    def cpu(self):
        self._device = "cpu"
        return self

    def eval(self):
        return self

    half = bfloat16 = float = eval

    def generate(self, *args, **kwargs):
        self.record.generates.append({"model": self, "args": args, "kwargs": kwargs,
                                      "names": [k for k, v in self.record.names.items() if v is self]})
        return Tensor(self._device)


class Peft:
    """What PeftModel.from_pretrained returns: a wrapper around the base model, whose layers now carry LoRA."""

    def __init__(self, base: Model):
        self.base = base

    @property
    def device(self):
        return self.base.device

    def to(self, *args, **kwargs):
        self.base.to(*args, **kwargs)
        return self

    def cuda(self, *args, **kwargs):
        self.base.cuda()
        return self

    def eval(self):
        return self

    def get_base_model(self):
        return self.base

    def merge_and_unload(self, *args, **kwargs):
        self.base.merged = True
        return self.base

    def generate(self, *args, **kwargs):
        self.base.record.generates.append({"model": self.base, "args": args, "kwargs": kwargs, "peft": True,
                                           "names": [k for k, v in self.base.record.names.items() if v is self]})
        return Tensor(self.base._device)


def _attach(record: Record, base, adapter, loader: str):
    if not isinstance(base, Model):
        raise SnippetProblem(f"{loader}(base_model, adapter) needs the model from AutoModelForCausalLM."
                             f"from_pretrained as its first argument, got {type(base).__name__} {base!r:.40}.")
    repo = getattr(adapter, "repo", "") or (str(adapter) if HUB_ID.match(str(adapter)) else "")
    trained_on = astraios_base(repo) if repo else None
    if trained_on and trained_on != base.checkpoint:
        raise SnippetProblem(f"{repo!r} was trained on {trained_on!r}, but the base model loaded is "
                             f"{base.checkpoint!r}: an adapter only fits the base model it was trained on (its shapes "
                             "and what its weights mean). Load that base, or the adapter made for yours.")
    record.adapters.append((base, str(adapter), loader))
    base.adapter, base.loader = str(adapter), loader


def stand_ins(record: Record) -> dict:
    """The names the snippet may use, as stand-ins that record what the code does."""

    def model_from_pretrained(checkpoint, *args, **kwargs):
        placed = _device(kwargs["device_map"]) if kwargs.get("device_map") is not None else "cpu"
        model = Model(record, checkpoint, placed, len(record.loads))
        model.after_adapter = bool(record.adapters)
        record.loads.append(model)
        return model

    def peft_from_pretrained(model, adapter=None, *args, **kwargs):
        adapter = kwargs.get("model_id", adapter)
        if adapter_kind(adapter) == "parallel":
            raise SnippetProblem(f"{str(adapter)!r} is a parallel adapter (peft type BOTTLENECK from Astraios' fork "
                                 "of peft 0.6): mainline peft cannot load it. Load it with deepcoder_lib.adapters."
                                 "load_bottleneck_adapter(base_model, folder) (folder = huggingface_hub."
                                 "snapshot_download(...)), or use a LoRA adapter for the same base, e.g. Astraios' "
                                 "LoRA variant.")
        _attach(record, model, adapter, "PeftModel.from_pretrained")
        return Peft(model)

    def load_bottleneck_adapter(model, folder, *args, **kwargs):
        if adapter_kind(folder) == "lora":
            raise SnippetProblem(f"{str(folder)!r} is a LoRA adapter: load it with PeftModel.from_pretrained("
                                 "base_model, adapter); load_bottleneck_adapter only reads Astraios' parallel "
                                 "bottleneck adapters.")
        if HUB_ID.match(str(folder)) and not isinstance(folder, Folder):
            raise SnippetProblem(f"load_bottleneck_adapter reads a folder on this computer, not the hub id "
                                 f"{str(folder)!r}: download it first, folder = huggingface_hub.snapshot_download("
                                 f"\"{folder}\"), and pass the folder.")
        _attach(record, model, folder, "load_bottleneck_adapter")
        return model

    def snapshot_download(repo_id=None, *args, **kwargs):
        repo = str(kwargs.get("repo_id", repo_id))
        folder = Folder(f"/home/you/.cache/huggingface/hub/{repo.replace('/', '--')}")
        folder.repo = repo
        return folder

    auto_model = types.SimpleNamespace(from_pretrained=model_from_pretrained)
    auto_tokenizer = types.SimpleNamespace(from_pretrained=lambda *a, **k: Tokenizer())
    peft_model = types.SimpleNamespace(from_pretrained=peft_from_pretrained)
    fake_torch = types.ModuleType("torch")
    fake_torch.__dict__.update({k: v for k, v in vars(torch).items() if not k.startswith("__")})
    fake_torch.cuda = types.SimpleNamespace(is_available=lambda: True, device_count=lambda: 1,
                                            current_device=lambda: 0, empty_cache=lambda: None)
    transformers = types.SimpleNamespace(AutoModelForCausalLM=auto_model, AutoTokenizer=auto_tokenizer,
                                         GPTBigCodeForCausalLM=auto_model, AutoModel=auto_model)
    adapters = types.SimpleNamespace(load_bottleneck_adapter=load_bottleneck_adapter)
    modules = {"transformers": transformers, "peft": types.SimpleNamespace(PeftModel=peft_model),
               "huggingface_hub": types.SimpleNamespace(snapshot_download=snapshot_download),
               "deepcoder_lib.adapters": adapters, "deepcoder_lib.bottleneck": adapters, "torch": fake_torch,
               "deepcoder_lib": types.SimpleNamespace(adapters=adapters, bottleneck=adapters)}
    return {"modules": modules, "AutoModelForCausalLM": auto_model, "AutoTokenizer": auto_tokenizer,
            "PeftModel": peft_model, "torch": fake_torch}


def run_snippet(code: str) -> Record:
    """Execute ``code`` with the stand-ins; raises SyntaxError, SnippetProblem, or whatever the code raised."""
    record = Record()
    names = stand_ins(record)
    modules = names.pop("modules")

    def guarded_import(name, globals=None, locals=None, fromlist=(), level=0):
        if name in modules:
            return modules[name] if fromlist or "." not in name else modules[name.split(".")[0]]
        return builtins.__import__(name, globals, locals, fromlist, level)

    namespace = {"__builtins__": {**vars(builtins), "__import__": guarded_import}, "__name__": "__snippet__", **names}
    record.names = namespace
    compiled = compile(code, "<your snippet>", "exec")
    with contextlib.redirect_stdout(io.StringIO()), _time_limit(TIME_LIMIT_S):
        exec(compiled, namespace)
    return record


@contextlib.contextmanager
def _time_limit(seconds: float):
    """Stop a snippet that runs longer than ``seconds`` (an endless loop) with TimeoutError; main thread, Unix only."""
    import signal
    import threading
    if not hasattr(signal, "setitimer") or threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum, frame):
        raise TimeoutError(f"the snippet ran for more than {seconds:g} s (a loop that never ends?)")

    previous = signal.signal(signal.SIGALRM, stop)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
