"""The code that runs inside the grader's sandboxed processes (standard library only; judge.py ships its source).

A Python answer is graded in three kinds of process, none of which trusts another except as plain data:
  * the *recorder* runs the task's reference solution under the hidden tests and writes down every
    operation the tests make on it (look up a name, call it with these arguments, read an attribute) and
    each result, as plain data (``encode``);
  * the *runner* is the only process the answer ever runs in. It receives that list of operations (the
    inputs, never the tests or the expected results), performs each one on the answer, and writes each
    result as plain data;
  * the *judge* runs the hidden tests again, in a process without the answer, and gives them the answer's
    recorded results in place of the answer (``Replay``). The tests' own asserts decide, with values
    rebuilt by trusted code: an object of the answer's that lies in ``__eq__`` never reaches them.
``encode`` writes only exact plain types (and numpy's, rebuilt by numpy); anything else becomes a handle the
tests may only call or read attributes of. ``Driver`` is shared by the recorder and the judge, so that a
task whose reference passes under the recorder is known to pass under the judge with the same results.
"""
from __future__ import annotations

import builtins
import json
import os
import random
import sys
import traceback
from collections import Counter, OrderedDict, defaultdict
from decimal import Decimal
from fractions import Fraction

SEED = 20261207  # the hidden tests' `random` draws are the same in the recorder and the judge
MAX_DEPTH = 100
_SMALL = 1 << 62
_FACTORIES = {t.__name__: t for t in (int, float, str, list, dict, set, tuple, bool)}
_MUTABLE = (list, dict, set, bytearray)


class NotPlain(BaseException):
    """Raised where the tests use an object of the answer as a value (a BaseException: `except Exception` in a test cannot swallow it)."""


class AnswerStopped(BaseException):
    """The answer's process ended (or was killed) before it performed the operation the tests need."""


class BadRecord(BaseException):
    """A result record the answer's process wrote that is not what the runner writes."""


class Diverged(BaseException):
    """The tests asked the answer something it was not asked yet (their calls depend on its results)."""


def encode(x, handle=None, depth=0):
    """``x`` as JSON-ready plain data with its exact type; non-plain objects go to ``handle(x)`` (or NotPlain)."""
    t = type(x)
    if x is None or t is bool or t is str:
        return x
    if depth > MAX_DEPTH:
        raise NotPlain(f"a value nested more than {MAX_DEPTH} levels deep (or containing itself)")
    if t is int:
        return x if -_SMALL < x < _SMALL else ["int", hex(x)]
    if t is float:
        return ["float", x.hex()]
    if t is complex:
        return ["complex", x.real.hex(), x.imag.hex()]
    if t in (bytes, bytearray):
        return [t.__name__, x.hex()]
    if t in (list, tuple, set, frozenset):
        return [t.__name__, [encode(v, handle, depth + 1) for v in x]]
    if t in (dict, OrderedDict, Counter) or (t is defaultdict and x.default_factory in (None, *_FACTORIES.values())):
        pairs = [[encode(k, handle, depth + 1), encode(v, handle, depth + 1)] for k, v in x.items()]
        if t is defaultdict:
            return ["defaultdict", getattr(x.default_factory, "__name__", None), pairs]
        return [t.__name__, pairs]
    if t is Fraction:
        return ["Fraction", hex(x.numerator), hex(x.denominator)]
    if t is Decimal:
        return ["Decimal", str(x)]
    np = sys.modules.get("numpy")
    if np is not None and isinstance(x, (np.generic, np.ndarray)) and x.dtype.kind in "biufcUS":
        value = x.tolist() if t is np.ndarray else x.item()
        return ["numpy", x.dtype.str, list(x.shape) if t is np.ndarray else None, encode(value, None, depth + 1)]
    if handle is not None:
        return handle(x)
    raise NotPlain(f"a {t.__name__} object")


def decode(v, handle=None, depth=0):
    """The value ``encode`` wrote, rebuilt with trusted types only; ``handle(k, type name)`` for handles."""
    if v is None or type(v) in (bool, int, str):
        return v
    if type(v) is not list or not v or type(v[0]) is not str or depth > MAX_DEPTH + 2:
        raise ValueError(f"not an encoded value: {str(v)[:80]}")
    tag, rest = v[0], v[1:]
    if tag == "int":
        return int(rest[0], 16)
    if tag == "float":
        return float.fromhex(rest[0])
    if tag == "complex":
        return complex(float.fromhex(rest[0]), float.fromhex(rest[1]))
    if tag in ("bytes", "bytearray"):
        return (bytes if tag == "bytes" else bytearray).fromhex(rest[0])
    kinds = {"list": list, "tuple": tuple, "set": set, "frozenset": frozenset}
    if tag in kinds:
        return kinds[tag](decode(e, handle, depth + 1) for e in rest[0])
    if tag in ("dict", "OrderedDict", "Counter", "defaultdict"):
        pairs = [(decode(k, handle, depth + 1), decode(e, handle, depth + 1)) for k, e in rest[-1]]
        if tag == "defaultdict":
            return defaultdict(_FACTORIES[rest[0]] if rest[0] else None, pairs)
        return {"dict": dict, "OrderedDict": OrderedDict, "Counter": Counter}[tag](dict(pairs) if tag == "Counter" else pairs)
    if tag == "Fraction":
        return Fraction(int(rest[0], 16), int(rest[1], 16))
    if tag == "Decimal":
        return Decimal(rest[0])
    if tag == "numpy":
        import numpy as np
        value = decode(rest[2], None, depth + 1)
        return np.array(value, dtype=rest[0]).reshape(rest[1]) if rest[1] is not None else np.dtype(rest[0]).type(value)
    if tag == "handle" and handle is not None:
        return handle(int(rest[0]), str(rest[1]) if len(rest) > 1 else "object")
    raise ValueError(f"unknown value tag {tag!r}")


def describe(ops, k) -> str:
    """Operation ``k`` of ``ops`` in words, for a learner: ``circle_area(1)``, ``Rectangle(3, 4).area()``."""
    def show(v):
        try:
            text = repr(decode(v, lambda j, name: _Named(describe(ops, j) if j < k else f"<{name}>")))
        except (ValueError, KeyError, TypeError, OverflowError):
            text = "?"
        return text if len(text) < 80 else text[:76] + " ..."
    op = ops[k]
    if op["op"] == "global":
        return str(op["name"])
    target = describe(ops, op["on"]) if 0 <= op["on"] < k else "?"
    if op["op"] == "getattr":
        return f"{target}.{op['name']}"
    return f"{target}({', '.join([show(a) for a in op['args']] + [f'{n}={show(a)}' for n, a in op['kwargs']])})"


class _Named:
    def __init__(self, text):
        self.text = text

    def __repr__(self):
        return self.text


class Live:
    """Performs operations on real objects (the reference in the recorder, the answer in the runner)."""

    def __init__(self, namespace, keep_random=False):
        self.namespace, self.objects, self.keep_random = namespace, {}, keep_random

    def perform(self, k, op) -> dict:
        state = random.getstate() if self.keep_random else None
        try:
            if op["op"] == "global":
                if op["name"] not in self.namespace:
                    raise NameError(f"name {op['name']!r} is not defined")
                value = self.namespace[op["name"]]
            elif op["op"] == "getattr":
                value = getattr(self.objects[op["on"]], op["name"])
            else:
                args = [decode(a, lambda j, _: self.objects[j]) for a in op["args"]]
                kwargs = {name: decode(a, lambda j, _: self.objects[j]) for name, a in op["kwargs"]}
                before = {i: encode(a, lambda o: None) for i, a in [*enumerate(args), *kwargs.items()]
                          if isinstance(a, _MUTABLE)}
                value = self.objects[op["on"]](*args, **kwargs)
                changed = [[i, after] for i, a in [*enumerate(args), *kwargs.items()] if i in before
                           and (after := encode(a, lambda o: None)) != before[i]]
        except BaseException as e:  # the tests see an exception of the same builtin class, or AnswerError
            return {"raised": [type(e).__name__, str(e)[:300]]}
        finally:
            if state is not None:
                random.setstate(state)  # the reference's own draws must not shift the tests' draws
        try:
            result = {"r": encode(value, lambda x: (self.objects.__setitem__(k, x), ["handle", k, type(x).__name__])[1])}
        except NotPlain as e:
            result = {"raised": ["NotPlain", str(e)]}
        if op["op"] == "call" and changed:
            result["changed"] = changed
        return result


class AnswerError(Exception):
    """An exception of a class the answer defined (the tests can only see its name and message)."""


def _raise(name, message):
    if name == "NotPlain":
        raise NotPlain(message)
    kind = getattr(builtins, name, None)
    if isinstance(kind, type) and issubclass(kind, BaseException) and kind.__module__ == "builtins":
        raise kind(message)
    raise AnswerError(f"{name}: {message}")


def _become(old, new):
    """Apply, to the tests' own argument ``old``, the change the answer made to its copy (now ``new``)."""
    if type(old) is list:
        old[:] = new
    elif type(old) in (dict, set):
        old.clear()
        old.update(new)
    elif type(old) is bytearray:
        old[:] = new


class Driver:
    """Runs hidden tests with the answer's names bound to handles; each operation goes to ``backend``.

    ``backend(k, op)`` returns the result record of operation ``k`` (a Live object in the recorder, the
    answer's recorded results in the judge). ``ops`` and ``results`` list what was asked and answered.
    """

    def __init__(self, backend, script=None):
        self.backend, self.script, self.ops, self.results, self.pending = backend, script, [], [], None

    def op(self, op, args=None):
        k = len(self.ops)
        if self.script is not None and (k >= len(self.script) or self.script[k] != op):
            self.pending = op
            raise Diverged()
        self.ops.append(op)
        record = self.backend(k, op)
        self.results.append(record)
        if "raised" in record:
            _raise(*record["raised"])
        try:
            value = decode(record["r"], lambda j, name: Handle(self, j, name))
            for i, new in record.get("changed", []):
                _become(args[i] if isinstance(i, int) else args[-1][i], decode(new))
        except Exception as e:
            raise BadRecord(f"result {k}: {type(e).__name__}: {e}") from None
        return value

    def global_(self, name):
        return self.op({"op": "global", "name": name})

    def call(self, k, args, kwargs):
        def plain(v):
            return encode(v, lambda x: ["handle", object.__getattribute__(x, "_k")] if type(x) is Handle else
                          (_ for _ in ()).throw(NotPlain(f"the tests pass a {type(x).__name__} to the answer")))
        op = {"op": "call", "on": k, "args": [plain(a) for a in args], "kwargs": [[n, plain(v)] for n, v in kwargs.items()]}
        return self.op(op, [*args, kwargs])

    def run_humaneval(self, prompt, test, entry_point):
        namespace = {"__name__": "hidden_tests"}
        exec(compile(prompt, "prompt", "exec"), namespace)  # the prompt's helpers, as the task wrote them
        exec(compile(test, "hidden test 0", "exec"), namespace)
        random.seed(SEED)
        # the entry point's own name means the answer's function too (HumanEval/33's check calls both), as in
        # the reference's one namespace; the prompt's other helpers stay the prompt's own
        namespace[entry_point] = candidate = self.global_(entry_point)
        exec(compile("check(candidate)", "hidden test 1", "exec"), {**namespace, "candidate": candidate})

    def run_statements(self, tests, names):
        namespace = {"__name__": "hidden_tests"}
        for name in names:  # the answer's names the tests use, looked up once, after the answer loaded
            try:
                namespace[name] = self.global_(name)
            except NameError:
                pass  # the test that uses it fails with NameError, as it would have in one process
        random.seed(SEED)
        for i, test in enumerate(tests):
            exec(compile(test, f"hidden test {i}", "exec"), namespace)


class Handle:
    """An object of the answer's, seen from the tests: it can be called and its attributes read, nothing else."""
    __slots__ = ("_driver", "_k", "_name")

    def __init__(self, driver, k, name):
        object.__setattr__(self, "_driver", driver)
        object.__setattr__(self, "_k", k)
        object.__setattr__(self, "_name", name)

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return object.__getattribute__(self, "_driver").op(
            {"op": "getattr", "on": object.__getattribute__(self, "_k"), "name": name})

    def __call__(self, *args, **kwargs):
        return object.__getattribute__(self, "_driver").call(object.__getattribute__(self, "_k"), args, kwargs)

    def __repr__(self):
        return f"<{object.__getattribute__(self, '_name')} object of the answer>"

    def _refuse(self, *args):
        raise NotPlain(f"the tests used a {object.__getattribute__(self, '_name')} object of the answer as a value; "
                       "the grader compares plain values only (int, float, str, list, dict, ...)")

    __eq__ = __ne__ = __lt__ = __le__ = __gt__ = __ge__ = __bool__ = __len__ = __iter__ = __contains__ = _refuse
    __getitem__ = __setattr__ = __hash__ = __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = _refuse
    __truediv__ = __floordiv__ = __mod__ = __neg__ = __abs__ = __index__ = __int__ = __float__ = _refuse
    __str__ = __format__ = __round__ = __reversed__ = __setitem__ = __delitem__ = _refuse


def failure(error, tests) -> dict:
    """The verdict record for an exception raised by the hidden tests (which line, and why)."""
    frames = [f for f in traceback.extract_tb(error.__traceback__) if f.filename.startswith("hidden test ")]
    line = ""
    if frames:
        source = tests[int(frames[-1].filename.split()[-1])]
        line = source.splitlines()[frames[-1].lineno - 1].strip() if frames[-1].lineno else source
    what = "" if isinstance(error, AssertionError) else f" ({type(error).__name__})"
    return {"status": "fail", "line": line, "reason": f"hidden test failed: {line}{what}",
            "message": f"{type(error).__name__}: {str(error)[:300]}"}


def start(stdin_eof: bool = False):
    """Every sandboxed process's first step: its input (one JSON document on stdin) and ``emit``, which writes
    result records to the real stdout; print() then goes to stderr, never among the results. ``stdin_eof``:
    stdin then reads /dev/null (the answer's ``input()`` meets EOF)."""
    data = json.loads(sys.stdin.read())
    if stdin_eof:
        os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
    emit = emitter(os.dup(1))
    os.dup2(2, 1)
    return data, emit


ANSWER_FILES = ("prompt.py", "solution.py")  # loaded in this order: a HumanEval prompt's imports and helpers first


def answer_sources() -> list:
    """The answer's files that exist (``ANSWER_FILES``, in order) as (name, source), read from the working folder,
    which first leaves ``sys.path``: no module of the answer's folder shadows the standard library."""
    here = os.getcwd()
    sys.path[:] = [p for p in sys.path if p not in ("", here)]
    return [(name, open(name).read()) for name in ANSWER_FILES if os.path.exists(name)]


def load_answer(sources, emit, chars: int = 300) -> dict:
    """The answer's namespace: ``sources`` executed in one module named "solution", as the reference harness loads
    them. When loading raises, ``emit`` writes the process's only record, ``load_error`` (the exception, at most
    ``chars`` characters of its message) with ``where`` (the answer's line it came from), and the process ends."""
    namespace = {"__name__": "solution"}
    try:
        for name, source in sources:
            exec(compile(source, name, "exec"), namespace)
    except BaseException as e:
        where = [f"{f.filename} line {f.lineno}" for f in traceback.extract_tb(e.__traceback__)
                 if f.filename in ANSWER_FILES][-1:]
        emit({"load_error": f"{type(e).__name__}: {str(e)[:chars]}", "where": where[0] if where else ""})
        os._exit(0)
    return namespace


def emitter(fd):
    def emit(record):
        data = (json.dumps(record) + "\n").encode()
        while data:
            data = data[os.write(fd, data):]
    return emit


def run_tests(driver, spec) -> list[str]:
    """Run the hidden tests of ``spec`` through ``driver``; return their sources (for ``failure``)."""
    if spec["kind"] == "humaneval":
        driver.run_humaneval(spec["prompt"], spec["test"], spec["entry_point"])
        return [spec["test"], "check(candidate)"]
    driver.run_statements(spec["tests"], spec["names"])
    return spec["tests"]


def decide(driver, spec) -> dict:
    """The verdict record of one judged run: pass, fail, need (more operations), stopped or bad."""
    sources = spec["tests"] if spec["kind"] == "statements" else [spec["test"], "check(candidate)"]
    try:
        run_tests(driver, spec)
        verdict = {"status": "pass"}
    except Diverged:
        verdict = {"status": "need", "ops": driver.ops + [driver.pending]}
    except AnswerStopped as e:
        verdict = {"status": "stopped", "message": str(e)}
    except BadRecord as e:
        verdict = {"status": "bad", "message": str(e)}
    except NotPlain as e:
        verdict = {**failure(e, sources), "reason": f"{failure(e, sources)['reason'].split(' (')[0]}: {e}"}
    except BaseException as e:
        verdict = failure(e, sources)
    return {**verdict, "last": len(driver.ops) - 1}
