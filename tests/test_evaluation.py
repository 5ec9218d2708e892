"""pass_at_k against hand-computed values and the binomial formula; the tasks; grading; generation; the CLI."""
import math
from fractions import Fraction

import matplotlib
import pytest

from deepcoder_lib import evaluation, evaluation_cli
from deepcoder_lib.evaluation import (PROMPT_STYLES, build_messages, check_answer, generate_answers, load_tasks,
                                      pass_at_k, plot_pass_at_k, read_csv, summarize, write_csv)

matplotlib.use("Agg")


# ---------------------------------------------------------------- pass@k
def test_pass_at_k_hand_computed():
    """n=5 samples, c=2 pass, k=2: C(3,2)/C(5,2) = 3/10 of the pairs fail both, so pass@2 = 0.7."""
    assert pass_at_k(5, 2, 2) == pytest.approx(0.7)
    assert pass_at_k(10, 3, 1) == pytest.approx(0.3)  # pass@1 is just c/n
    assert pass_at_k(4, 1, 4) == 1.0  # k = n: the one pass is always drawn
    assert pass_at_k(10, 0, 5) == 0.0 and pass_at_k(10, 10, 1) == 1.0
    assert pass_at_k(3, 1, 3) == 1.0  # n - c < k: every draw of 3 contains the pass


@pytest.mark.parametrize("n", [1, 2, 5, 10, 20, 60])
def test_pass_at_k_matches_binomials(n):
    for c in range(n + 1):
        for k in range(1, n + 1):
            exact = 1 - Fraction(math.comb(n - c, k), math.comb(n, k))
            assert pass_at_k(n, c, k) == pytest.approx(float(exact), abs=1e-12)


def test_pass_at_k_is_stable_for_large_n():
    # C(1000, 500) has 300 digits: float binomials overflow, the product form does not
    # C(997, 500) / C(1000, 500) = (500 * 499 * 498) / (1000 * 999 * 998)
    assert pass_at_k(1000, 3, 500) == pytest.approx(1 - (500 * 499 * 498) / (1000 * 999 * 998), abs=1e-15)


@pytest.mark.parametrize("args, message", [
    ((5, 6, 1), r"`c` \(passing samples\) cannot exceed `n` \(samples\), got c=6 > n=5"),
    ((5, 2, 6), "`k` must be between 1 and n=5, got k=6"),
    ((5, 2, 0), "`k` must be between 1 and n=5, got k=0"),
    ((5, -1, 1), "`c` must be a whole number >= 0, got -1"),
    ((5.0, 1, 1), "`n` must be a whole number >= 0, got 5.0"),
])
def test_pass_at_k_errors(args, message):
    with pytest.raises(ValueError, match=message):
        pass_at_k(*args)


# ---------------------------------------------------------------- tasks
TASKS = load_tasks()


def test_task_suite_shape():
    assert 10 <= len(TASKS) <= 20
    assert {t["kind"] for t in TASKS} == {"python", "flask", "html"}
    for task in TASKS:
        assert (evaluation.TASKS_DIR / f"{task['name']}.json").exists()
        if task["kind"] == "python":
            assert task["tests"] and all(isinstance(t, str) for t in task["tests"])
        else:
            assert len(task["inputs"]) >= 2 and len(set(task["expected"])) == len(task["inputs"]), task["name"]


@pytest.mark.parametrize("task", TASKS, ids=[t["name"] for t in TASKS])
def test_reference_solutions_pass_their_own_checks(task):
    outcome = check_answer(task, f"Here it is:\n```python\n{task['solution']}```\nEnjoy!", timeout=20)
    assert outcome.passed and outcome.category == "pass", outcome.reason


def test_unknown_task_name():
    with pytest.raises(ValueError, match=r"unknown task\(s\) \['nope'\]; the tasks are: "):
        load_tasks(["nope"])


# ---------------------------------------------------------------- grading
CIRCLE = load_tasks(["circle_area"])[0]


@pytest.mark.parametrize("answer, category, reason", [
    ("The area is pi times r squared.", "no_code", "no python code in the answer"),
    ("```python\ndef circle_area(radius):\n    return 2 * 3.14159 * radius\n```", "wrong",
     "hidden test failed: assert math.isclose(circle_area(1), math.pi, rel_tol=1e-3)"),
    ("```python\nr = float(input('radius: '))\nprint(3.14 * r * r)\n```", "error", "EOFError"),
    ("```python\ndef area(radius):\n    return 3.14159 * radius ** 2\n```", "wrong", "(NameError)"),
    ("```python\nimport numpy as np\ndef circle_area(r)\n    return np.pi * r**2\n```", "error", "SyntaxError"),
    ("```python\nwhile True:\n    pass\n```", "timeout", "timed out"),
])
def test_check_answer_says_why(answer, category, reason):
    outcome = check_answer(CIRCLE, answer, timeout=3)
    assert not outcome.passed and outcome.category == category
    assert reason in outcome.reason


def test_check_answer_flask_wrong_route_answer():
    task = load_tasks(["flask_circle_area"])[0]
    outcome = check_answer(task, "```python\n" + task["solution"].replace("radius ** 2", "radius * 2") + "```")
    assert outcome.category == "wrong" and "GET /area?r=3.0 answered area=18.8496, expected 28.2743" in outcome.reason


# ---------------------------------------------------------------- prompts, summary, CSV, plot
def test_prompt_styles():
    plain, system, example = (build_messages("Do X.", s) for s in PROMPT_STYLES)
    assert plain == [{"role": "user", "content": "Do X."}]
    assert [m["role"] for m in system] == ["system", "user"]
    assert [m["role"] for m in example] == ["system", "user", "assistant", "user"]
    assert "```python" in example[2]["content"]
    with pytest.raises(ValueError, match="`style` must be one of .*, got 'fancy'"):
        build_messages("Do X.", "fancy")


def _rows():
    # task a: 2 of 4 pass at T=0.8; task b: 0 of 4; greedy: a passes, b fails
    rows = [{"task": t, "style": "system", "temperature": 0.8, "passed": p}
            for t, ps in (("a", [1, 0, 1, 0]), ("b", [0, 0, 0, 0])) for p in map(bool, ps)]
    return rows + [{"task": "a", "style": "system", "temperature": 0.0, "passed": True},
                   {"task": "b", "style": "system", "temperature": 0.0, "passed": False}]


def test_summarize_averages_unbiased_estimates_over_tasks():
    table = summarize(_rows(), ks=(1,))
    assert [(r["temperature"], r["pass@1"], r["tasks"]) for r in table] == [(0.0, 0.5, 2), (0.8, 0.25, 2)]
    sampled = summarize([r for r in _rows() if r["temperature"] == 0.8], ks=(1, 2, 4))[0]
    assert sampled["pass@2"] == pytest.approx((pass_at_k(4, 2, 2) + 0.0) / 2)  # (5/6 + 0) / 2
    # pass@4 from n=4 answers is one yes/no per task: not reported (k >= 2 needs n >= 2k), and said why
    assert math.isnan(sampled["pass@4"]) and math.isnan(sampled["pass@4_low"])
    assert sampled["note"] == ("pass@4 needs n >= 8 answers per task (2k), got n=4: not reported; "
                               "sample more answers (-n 8) or use a smaller k")
    assert sampled["pass@1_low"] <= sampled["pass@1"] <= sampled["pass@1_high"]


def test_summarize_band_resamples_tasks():
    """Two tasks: pass@1 is 1 and 0, so a resample of 2 tasks has mean 0, 0.5 or 1 (1/4, 1/2, 1/4)."""
    rows = [{"task": t, "style": "system", "temperature": 0.0, "passed": p} for t, p in (("a", True), ("b", False))]
    (entry,) = summarize(rows)
    assert (entry["pass@1_low"], entry["pass@1"], entry["pass@1_high"]) == (0.0, 0.5, 1.0)
    all_pass = summarize([{**r, "passed": True} for r in rows])[0]
    assert (all_pass["pass@1_low"], all_pass["pass@1_high"]) == (1.0, 1.0) and all_pass["note"] == ""


def test_csv_round_trip(tmp_path):
    rows = [{**r, "sample": 0, "answer": "```python\nprint('a, \"b\"')\n```"} for r in _rows()]
    back = read_csv(write_csv(rows, tmp_path / "r.csv"))
    assert [r["passed"] for r in back] == [r["passed"] for r in rows]
    assert back[0]["answer"] == rows[0]["answer"] and summarize(back) == summarize(rows)


def test_plot_pass_at_k():
    rows = _rows()
    summary = summarize([r for r in rows if r["temperature"] > 0], ks=(1, 2, 4))
    ax = plot_pass_at_k(summary, ks=(1, 2, 4))
    assert ax.get_xlabel().startswith("sampling temperature") and ax.get_ylabel().startswith("pass@k")
    assert ax.get_legend_handles_labels()[1] == ["pass@1", "pass@2", "pass@4 (not shown: needs n >= 8)"]
    line, _, (bars,) = ax.containers[1]  # pass@2: the value, and an error bar from the band's low to high
    assert list(line.get_ydata()) == [summary[0]["pass@2"]]
    assert bars.get_segments()[0][:, 1].tolist() == [summary[0]["pass@2_low"], summary[0]["pass@2_high"]]


@pytest.mark.parametrize("argv, message", [
    (["-n", "2", "-k", "1,5"], "`-k` 5 needs `-n` >= 10 (pass@k is reported only with n >= 2k answers "
                               "per task), got -n 2"),
    (["-n", "4", "-k", "1,2,3"], "`-k` 3 needs `-n` >= 6"),
    (["-k", "one"], "`-k` must be comma-separated ints, got 'one'"),
    (["--temperatures", "0,warm"], "`--temperatures` must be comma-separated floats, got '0,warm'"),
    (["--temperatures", "-1"], "`--temperatures` must be a finite number >= 0, got -1.0; use 1.0 to leave"),
    (["--temperatures", "0,inf"], "`--temperatures` must be a finite number >= 0, got inf"),
    (["-n", "0"], "`-n` must be a positive whole number, got 0; answers per task and temperature"),
    (["-k", "0"], "`-k` must be a positive whole number, got 0; pass@k needs k >= 1"),
    (["--max-new-tokens", "0"], "`--max-new-tokens` must be a positive whole number, got 0"),
    (["--batch-size", "-2"], "`--batch-size` must be a positive whole number, got -2"),
    (["--seed", "-1"], "`--seed` must be a whole number >= 0, got -1"),
    (["--top-p", "0"], "`--top-p` must be in (0, 1], got 0.0; use 1.0 to switch top-p off"),
    (["--styles", "fancy"], "`--styles` must come from ('plain', 'system', 'example'), got 'fancy'"),
    (["--suite", "mbpp"], "argument --suite: invalid choice: 'mbpp'"),
    (["--tasks", "nope"], "unknown task(s) ['nope']; the tasks are: celsius_to_fahrenheit"),
    (["--suite", "humaneval", "--tasks", "HumanEval/999"], "unknown task(s) ['HumanEval/999']; the tasks are: "
                                                          "HumanEval/0"),
    (["--suite", "humaneval", "--tasks", "500:"], "`--tasks` 500: selects no task of suite 'humaneval'"),
    (["--suite", "humaneval", "--tasks-dir", "x"], "`--tasks-dir` is for the course suite"),
    (["--top-p", "1.5"], "`--top-p` must be in (0, 1], got 1.5; use 1.0 to switch top-p off"),
    (["--server", "http://x:1/v1", "--checkpoint", "smollm2"], "`--server` and `--checkpoint` both given"),
])
def test_cli_argument_errors(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        evaluation_cli.main(["evaluate", *argv])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and message in err, err


def test_cli_defaults_follow_the_suite():
    from deepcoder_lib.evaluation_cli import parse

    args, ks, temperatures, tasks = parse(["--suite", "humaneval", "--tasks", "0:3", "HumanEval/163"])
    assert (ks, temperatures, args.n, args.max_new_tokens) == ([1], [0.0], 1, 300)
    assert [t["name"] for t in tasks] == ["HumanEval/0", "HumanEval/1", "HumanEval/2", "HumanEval/163"]
    args, ks, temperatures, tasks = parse([])
    assert (ks, temperatures, args.n, len(tasks)) == ([1, 5], [0.0, 0.4, 0.8, 1.2], 10, len(TASKS))


def test_load_tasks_slices_and_suites():
    assert [t["name"] for t in load_tasks(["-2:"])] == [t["name"] for t in TASKS[-2:]]
    assert load_tasks(["circle_area", "0:1"]) == [CIRCLE, TASKS[0]]
    assert load_tasks(folder=evaluation.TASKS_DIR) == TASKS  # the folder argument, as before
    with pytest.raises(ValueError, match=r"`suite` must be one of \('course', 'humaneval'\), got 'mbpp'"):
        load_tasks(suite="mbpp")
    with pytest.raises(ValueError, match="`folder` is for the course suite"):
        load_tasks(folder="x", suite="humaneval")


# ---------------------------------------------------------------- the real model
@pytest.mark.slow
def test_generate_answers_batched_matches_single_greedy(model, tokenizer):
    chats = [build_messages(t["request"]) for t in load_tasks(["circle_area", "reverse_string"])]
    side = tokenizer.padding_side
    answers = generate_answers(model, tokenizer, chats, n=2, temperature=0.0, max_new_tokens=12)
    assert len(answers) == 2 and all(len(a) == 2 and a[0] == a[1] for a in answers)  # greedy, repeated
    single = tokenizer.apply_chat_template(chats[0], add_generation_prompt=True, return_tensors="pt",
                                           return_dict=True)
    output_ids = model.generate(**single, do_sample=False, max_new_tokens=12, pad_token_id=tokenizer.pad_token_id)
    assert answers[0][0] == tokenizer.decode(output_ids[0, single["input_ids"].shape[1]:], skip_special_tokens=True)
    assert tokenizer.padding_side == side  # generate_answers pads on the left, then restores the setting


@pytest.mark.slow
def test_sampling_is_seeded_and_varied(model, tokenizer):
    chats = [build_messages(CIRCLE["request"])]
    first = generate_answers(model, tokenizer, chats, n=3, temperature=1.2, max_new_tokens=10, seed=1)
    again = generate_answers(model, tokenizer, chats, n=3, temperature=1.2, max_new_tokens=10, seed=1)
    assert first == again and len(set(first[0])) > 1
    with pytest.raises(ValueError, match="`temperature` must be a finite number >= 0, got -1; use 1.0"):
        generate_answers(model, tokenizer, chats, temperature=-1)


@pytest.mark.slow
def test_cli_end_to_end(tmp_path, capsys):
    out = tmp_path / "suite.csv"
    from deepcoder_lib.__main__ import main  # python -m deepcoder_lib evaluate ...
    code = main(["evaluate", "--tasks", "celsius_to_fahrenheit", "-n", "4", "-k", "1,2",
                            "--temperatures", "0,1.0", "--max-new-tokens", "48", "--output", str(out)])
    printed = capsys.readouterr().out
    assert code == 0 and "wrote 8 graded answers" in printed and "pass@2" in printed and "95% bootstrap" in printed
    rows = read_csv(out)
    assert [(r["temperature"], r["sample"]) for r in rows] == [(t, str(i)) for t in (0.0, 1.0) for i in range(4)]
    assert {r["category"] for r in rows} <= {"pass", "no_code", "error", "wrong", "timeout"}


WRONG = "def circle_area(radius):\n    return 3 * radius\n"
HOSTILE = {
    "os._exit(0)": "import os\nos._exit(0)\n",
    "wrong + abs = lambda": WRONG + "abs = lambda x: 0\n",
    "wrong + builtins.abs": WRONG + "import builtins\nbuiltins.abs = lambda x: 0\n",
    "wrong + sys.exit no-op": WRONG + "import sys\nsys.exit = lambda *a: None\n",
    # the harness used to look `exec` up after the answer ran: a no-op exec skipped every hidden test
    "wrong + builtins.exec no-op": WRONG + "import builtins\nbuiltins.exec = lambda *a, **k: None\n",
    "wrong + atexit os._exit(0)": WRONG + "import atexit, os\natexit.register(lambda: os._exit(0))\n",
    "wrong + forged marker": WRONG + "print('\\nDEEPCODER-RESULT 0 PASS', flush=True)\n"
                             "print('ALL TESTS PASSED', flush=True)\nimport os\nos._exit(0)\n",
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_answers_do_not_pass(name):
    outcome = check_answer(CIRCLE, "```python\n" + HOSTILE[name] + "```")
    assert not outcome.passed and outcome.category in ("wrong", "error"), (name, outcome)


def test_unchecked_html_is_left_out_of_pass_at_k():
    rows = [{"task": "a", "style": "system", "temperature": 0.0, "passed": True, "category": "pass"},
            {"task": "b", "style": "system", "temperature": 0.0, "passed": False, "category": "unchecked"}]
    (entry,) = evaluation.summarize(rows)
    assert entry["tasks"] == 1 and entry["pass@1"] == 1.0


def test_pi_as_3_14_is_accepted_the_same_way_everywhere():
    # 3.14 is 0.051% off pi: within the 0.1% every circle task allows (Flask/HTML checks: rel_tol=1e-3)
    assert check_answer(CIRCLE, "```python\ndef circle_area(r):\n    return 3.14 * r * r\n```").passed
    assert not check_answer(CIRCLE, "```python\ndef circle_area(r):\n    return 3.1 * r * r\n```").passed


def test_sent_summary_groups_the_requests_a_run_sent():
    """The record of a server run: each distinct request body (without messages) once, with its count; seed and
    n, which change from request to request, as ranges."""
    greedy = {"model": "m", "max_tokens": 8, "temperature": 0.0, "top_p": 1.0, "top_k": 0}
    sampled = {**greedy, "temperature": 0.8, "top_p": 0.95}
    sent = [{**greedy, "seed": 0}, {**greedy, "seed": 16}, {**sampled, "seed": 3, "n": 20}, {**sampled, "seed": 4, "n": 19}]
    assert evaluation_cli.sent_summary(sent) == {
        "requests": 4, "bodies": [{"requests": 2, **greedy}, {"requests": 2, **sampled}], "seed": [0, 16], "n": [19, 20]}
    assert evaluation_cli.sent_summary([greedy]) == {"requests": 1, "bodies": [{"requests": 1, **greedy}],
                                                     "seed": None, "n": None}


@pytest.mark.slow
def test_greedy_copies_are_graded_once(model, tokenizer, monkeypatch):
    """Greedy gives one answer n times: evaluate runs it in the sandbox once and copies the verdict to each row."""
    calls = []
    real = evaluation.check_answer
    monkeypatch.setattr(evaluation, "check_answer", lambda task, answer, **kw: calls.append(answer) or real(task, answer, **kw))
    rows = evaluation.evaluate(model, tokenizer, [CIRCLE], temperatures=(0.0,), n=3, max_new_tokens=24)
    assert len(rows) == 3 and len({r["answer"] for r in rows}) == 1 and len(calls) == 1
    assert len({(r["passed"], r["category"], r["reason"]) for r in rows}) == 1
