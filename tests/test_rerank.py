"""rerank.py: the public examples of HumanEval prompts, running an answer on them in the sandbox, the reranking rule,
the repair turn, the figures of a stored run, and the stored run itself (benchmarks/rerank_humaneval.*)."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from deepcoder_lib import humaneval, rerank
from deepcoder_lib.rerank import Example, keep_first_passing, public_examples, run_public, summarize_run

STORED = Path(__file__).resolve().parents[1] / "benchmarks"
TASKS = {t["name"]: t for t in humaneval.load_tasks()}
# docstring examples that HumanEval's own canonical solution does not satisfy (the prompt is wrong, or the
# parser reads a recurrence's "tri(1) = 3" as an example): public examples are weak evidence
WRONG_IN_PROMPT = {"HumanEval/47", "HumanEval/116", "HumanEval/130", "HumanEval/148"}


def test_doctest_examples_of_the_first_task():
    assert public_examples(TASKS["HumanEval/0"]["prompt"], "has_close_elements") == [
        Example("has_close_elements([1.0, 2.0, 3.0], 0.5)", "False"),
        Example("has_close_elements([1.0, 2.8, 3.0, 4.0, 5.0, 2.0], 0.3)", "True")]


@pytest.mark.parametrize("line, expected", [
    ("iscube(1) ==> True", "True"), ("iscube(1) == True", "True"), ("iscube(1) => True", "True"),
    ("iscube(1) -> True", "True"), ("iscube(1) = True", "True"), ("iscube(1) returns True", "True"),
    ("iscube(1) should return True.", "True"), ("iscube(1) # => True", "True"),
    (">>> iscube(1) == True", "True"), ("iscube([1, (2, 3)]) ==> [1, 2]  # a remark", "[1, 2]"),
    ("iscube('a)b') ==> 'x' (because ...)", "'x'"),
])
def test_one_line_styles(line, expected):
    found = public_examples(f'def iscube(a):\n    """\n    {line}\n    """\n', "iscube")
    assert len(found) == 1 and found[0].expected == expected, found


def test_doctest_value_on_following_lines_and_repeats_dropped():
    prompt = 'def f(x):\n    """\n    >>> f(1)\n    [1,\n     2]\n    >>> f(1)\n    [1,\n     2]\n\n    """\n'
    assert public_examples(prompt, "f") == [Example("f(1)", "[1, 2]")]


@pytest.mark.parametrize("line", [
    "f(n) ==> 3",             # a variable of the prose
    "f(1) => true",           # not a Python literal
    "f(2) = 1 + 2 = 3",       # arithmetic, not a value
    "g(1) ==> 3",             # another function
    "fof(1) ==> 3",           # a longer name that ends in f
    "f(1) is about 3",        # no separator
    ">>> f(1)",               # doctest without a value
])
def test_lines_that_are_not_runnable_examples(line):
    assert public_examples(f'def f(x):\n    """\n    {line}\n    """\n', "f") == []


@pytest.mark.parametrize("prompt, entry_point", [(None, "f"), ("def f(): pass", "not a name"), ("x", 3)])
def test_bad_arguments_name_themselves(prompt, entry_point):
    with pytest.raises(ValueError, match="`prompt` must be a str and `entry_point` a function name"):
        public_examples(prompt, entry_point)


def test_how_many_humaneval_tasks_show_examples():
    found = [public_examples(t["prompt"], t["entry_point"]) for t in TASKS.values()]
    doctest_only = sum(">>>" in t["prompt"] for t in TASKS.values())
    assert sum(map(bool, found)) == 138 and sum(map(len, found)) == 390
    assert sum(map(bool, found)) > doctest_only  # the other layouts add tasks


@pytest.mark.slow
def test_canonical_solutions_pass_their_public_examples_except_the_wrong_prompts():
    failing = set()
    for name, task in TASKS.items():
        examples = public_examples(task["prompt"], task["entry_point"])
        if examples and not run_public(task, task["canonical_solution"], examples).passed:
            failing.add(name)
    assert failing == WRONG_IN_PROMPT


def _verdict(code: str, name: str = "HumanEval/0", **kwargs):
    task = TASKS[name]
    return run_public(task, code, public_examples(task["prompt"], task["entry_point"]), **kwargs)


def test_a_right_whole_function_passes_with_a_record_per_example():
    result = _verdict("def has_close_elements(numbers, threshold):\n    return any(abs(a - b) < threshold "
                      "for i, a in enumerate(numbers) for b in numbers[i + 1:])\n")
    assert result.passed and result.failure == "" and [r["ok"] for r in result.results] == [True, True]


@pytest.mark.parametrize("code, says", [
    ("def has_close_elements(numbers, threshold):\n    return True\n",
     "`has_close_elements([1.0, 2.0, 3.0], 0.5)` should give False, but it gave True"),
    ("def has_close_elements(numbers, threshold):\n    return numbers[9]\n", "raised IndexError: list index out of range"),
    ("def has_close_elements(numbers, threshold)\n    return True\n", "loading the function raised SyntaxError"),
    ("import os\ndef has_close_elements(numbers, threshold):\n    print('{\"ok\": true}')\n    os.write(1, b'{\"ok\": true}\\n')"
     "\n    return 1\n", "should give False, but it gave 1"),  # prints cannot fake a record; 1 is not False
    ("def has_close_elements(numbers, threshold):\n    while True: pass\n", "the run stopped before"),
])
def test_failures_say_which_example_and_why(code, says):
    result = _verdict(code, timeout=2.0)
    assert not result.passed and says in result.failure, result.failure


def test_floats_compare_within_a_tolerance_and_body_answers_load_after_the_prompt():
    assert _verdict("    return number - int(number) + 1e-9\n", "HumanEval/2").passed
    assert not _verdict("    return number\n", "HumanEval/2").passed


def test_no_examples_is_not_a_pass():
    task = TASKS["HumanEval/107"]
    assert public_examples(task["prompt"], task["entry_point"]) == []
    result = run_public(task, task["canonical_solution"], [])
    assert not result.passed and "no example" in result.failure


@pytest.mark.parametrize("flags, kept", [([True], 0), ([False, True, True], 1), ([False, False], 0),
                                         ((x for x in [False, False, True]), 2), ([0, 1], 1)])
def test_keep_first_passing(flags, kept):
    assert keep_first_passing(flags) == kept


def test_keep_first_passing_needs_an_answer():
    with pytest.raises(ValueError, match="`public_passed` is empty"):
        keep_first_passing([])


def test_repair_messages_add_the_answer_and_the_failure():
    chat = [{"role": "user", "content": "Write f."}]
    messages = rerank.repair_messages(chat, "```python\ndef f(): pass\n```", "`f()` should give 1, but it gave None")
    assert messages[:1] == chat and messages[1] == {"role": "assistant", "content": "```python\ndef f(): pass\n```"}
    assert messages[2]["role"] == "user" and "`f()` should give 1, but it gave None" in messages[2]["content"]
    assert chat == [{"role": "user", "content": "Write f."}]  # not changed in place
    with pytest.raises(ValueError, match="`failure` is empty"):
        rerank.repair_messages(chat, "x", "")


def _row(task, chain, rnd, public, hidden):
    return {"task": task, "chain": str(chain), "round": str(rnd), "public_passed": str(public),
            "hidden_passed": str(hidden)}


def test_summarize_run_by_hand():
    """Task a: answers (F,F) (T,T) (T,F): plain 1/3, reranked keeps #1 -> 1, pass@n 1; chain 0 repaired twice,
    its last round passes -> 1 (3 answers). Task b: (F,T) (F,F) (F,F): plain 1/3, no public pass -> #0 -> 1,
    pass@n 1; chain 0 repaired once, failing -> 0 (2 answers). Task c: nothing passes, chain 0 not repaired -> 0
    (1 answer). Plain 2/9, reranked 2/3, pass@n 2/3, repair 1/3; reranking 9 answers / 2 solved, repair 6 / 1."""
    rows = [_row("a", 0, 0, False, False), _row("a", 0, 1, False, False), _row("a", 0, 2, True, True),
            _row("a", 1, 0, True, True), _row("a", 2, 0, True, False),
            _row("b", 0, 0, False, True), _row("b", 0, 1, False, False), _row("b", 1, 0, False, False),
            _row("b", 2, 0, False, False),
            _row("c", 0, 0, False, False), _row("c", 1, 0, False, False), _row("c", 2, 0, False, False)]
    figures = summarize_run(rows)
    assert figures["tasks"] == 3 and figures["n"] == 3
    assert figures["plain pass@1"]["value"] == pytest.approx(2 / 9)
    assert figures["reranked pass@1"]["value"] == pytest.approx(2 / 3)
    assert figures["pass@n"]["value"] == pytest.approx(2 / 3)
    assert figures["repair pass@1"]["value"] == pytest.approx(1 / 3)
    assert figures["reranked pass@1"]["answers"] == 9 and figures["reranked pass@1"]["answers_per_solved"] == 4.5
    assert figures["repair pass@1"]["answers"] == 3 + 2 + 1 and figures["repair pass@1"]["answers_per_solved"] == 6
    assert figures["plain pass@1"]["low"] <= 2 / 9 <= figures["plain pass@1"]["high"]


def test_plot_figures_draws_each_method_with_its_own_marker():
    import matplotlib
    matplotlib.use("Agg")
    rows = [_row("a", 0, 0, True, True), _row("a", 1, 0, False, False), _row("b", 0, 0, False, False),
            _row("b", 1, 0, False, True)]
    ax = rerank.plot_figures(summarize_run(rows))
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert labels == ["plain pass@1", "reranked pass@1", "repair pass@1", "pass@n"]
    markers = {line.get_marker() for line in ax.lines if line.get_marker() not in ("None", None, "_")}
    assert len(markers) == 4


def test_token_bar_counts_new_tokens_only():
    bar = rerank.TokenBar(10, "test")
    for _ in range(4):
        bar.put(None)
    assert bar.bar.n == 3
    bar.end()


# --- the stored run --------------------------------------------------------------------------------------------
def test_stored_run_records_how_it_was_made_and_its_figures():
    info = json.loads((STORED / "rerank_humaneval.json").read_text())
    with (STORED / "rerank_humaneval.csv").open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    for key in ("command", "date", "machine", "load_average_at_start", "load_average_at_end", "torch",
                "transformers", "llama_cpp_python", "answered_by", "seconds_this_run"):
        assert info[key], key
    assert {"temperature", "top_p", "top_k", "min_p", "repetition_penalty", "max_new_tokens"} <= set(info["decoding"])
    assert info["decoding"]["top_k"] == 0 and info["decoding"]["repetition_penalty"] == 1.0
    figures = summarize_run(rows)
    for name in ("plain pass@1", "reranked pass@1", "pass@n", "repair pass@1"):
        assert figures[name]["value"] == pytest.approx(info["figures"][name]["value"])
    assert figures["reranked pass@1"]["value"] <= figures["pass@n"]["value"]
    assert figures["repair pass@1"]["value"] <= 1 and figures["tasks"] == len(info["tasks"])
    assert {r["task"] for r in rows} == set(info["tasks"])
    assert all(public_examples(TASKS[t]["prompt"], TASKS[t]["entry_point"]) for t in info["tasks"])
    assert (STORED / "rerank_humaneval.png").stat().st_size > 10_000


@pytest.mark.parametrize("body, expected, ok", [
    ("return [1, 2]", "(1, 2)", True),      # a sequence by its items: prompts write lists and tuples loosely
    ("return 0.1 + 0.2", "0.3", True),      # floats within 1e-6
    ("return 2.0", "2", True),
    ("return 1", "True", False),            # 1 == True in Python, but the example shows a bool
    ("return '1'", "1", False),
    ("return [1, [2]]", "[1, [2.0000001]]", True),
])
def test_how_values_compare(body, expected, ok):
    task = {"prompt": "", "entry_point": "f"}
    assert run_public(task, f"def f():\n    {body}\n", [Example("f()", expected)]).passed is ok
