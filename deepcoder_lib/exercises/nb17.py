"""Checks for notebook 17 (fill in the middle): StarCoder's SPM prompt written by hand, the pieces an older tokenizer
makes of Qwen2.5-Coder's FIM markers, and a missing HumanEval line filled by the learner, graded by the hidden tests
in the sandbox (any line that passes is right). The first two are instant; the third runs the sandbox (~1 s)."""
from __future__ import annotations

from . import CheckResult, as_number, failed, not_answered, passed

SPM_PREFIX = "def mean(xs):\n    total = sum(xs)\n    "
SPM_SUFFIX = "\n    return average\n"
QWEN_MARKERS = "<|fim_prefix|><|fim_suffix|><|fim_middle|>"
HOLE_PROBLEM, HOLE_LINE = 0, 3  # HumanEval/0 has_close_elements, line 3 of the body (not among the stored run's tasks)


def check_spm_prompt(prompt) -> CheckResult:
    """Is ``prompt`` StarCoder's SPM prompt (BigCode's variant) for ``SPM_PREFIX`` and ``SPM_SUFFIX``?"""
    from ..fim import FORMATS, fim_prompt

    if prompt is ...:
        return not_answered("`spm`", "a string")
    if not isinstance(prompt, str):
        return failed(f"`spm` must be a string (the prompt text), got {type(prompt).__name__}: {prompt!r:.80}.")
    f = FORMATS["starcoder"]
    if prompt == fim_prompt(SPM_PREFIX, SPM_SUFFIX, "starcoder", "spm"):
        return passed("That is StarCoder's SPM prompt: both markers first, the suffix, <fim_middle>, then the prefix, "
                      "which the model continues straight into the middle.")
    if prompt == fim_prompt(SPM_PREFIX, SPM_SUFFIX, "starcoder", "psm"):
        return failed("That is the PSM order (prefix first). In SPM the suffix comes before the prefix.")
    if prompt == f.suffix + SPM_SUFFIX + f.prefix + SPM_PREFIX + f.middle:
        return failed("That is llama.cpp's `spm_infill` order. StarCoder was trained on BigCode's variant: "
                      "reread section 1 for where the prefix goes and which marker it follows.")
    for other in ("deepseek", "qwen"):
        if any(marker in prompt for marker in FORMATS[other].markers):
            return failed(f"Those are {FORMATS[other].model}'s markers; StarCoder's are {', '.join(f.markers)}.")
    missing = [m for m in f.markers if prompt.count(m) != 1]
    if missing:
        return failed(f"Each marker must appear exactly once; {', '.join(missing)} does not. A misspelt marker is "
                      "not one token: the model never saw it during training.")
    if SPM_PREFIX not in prompt or SPM_SUFFIX not in prompt:
        which = "SPM_PREFIX" if SPM_PREFIX not in prompt else "SPM_SUFFIX"
        return failed(f"{which} is not in your prompt character for character (spaces and newlines count); "
                      "join the variables themselves instead of retyping them.")
    order = sorted(f.markers, key=prompt.index)
    return failed(f"The markers are in the order {', '.join(order)} and the texts between them differ from SPM: "
                  "in SPM nothing comes between the first two markers.")


def check_marker_pieces(count) -> CheckResult:
    """How many tokens does the course's Qwen2 tokenizer make of ``QWEN_MARKERS`` (the three markers together)?"""
    from ..tokens import load_tokenizer

    number = as_number(count, "`pieces`", "12", whole=True)
    if isinstance(number, CheckResult):
        return number
    qwen2 = load_tokenizer("qwen2")
    expected = len(qwen2(QWEN_MARKERS, add_special_tokens=False)["input_ids"])
    each = [len(qwen2(m, add_special_tokens=False)["input_ids"]) for m in QWEN_MARKERS.replace("><", ">\0<").split("\0")]
    if number == expected:
        return passed(f"{expected} ordinary pieces where Qwen2.5-Coder reads 3 tokens: a model trained on the 3 ids "
                      "sees something else entirely. Same BPE file, one tokenizer version apart.")
    if number == 3:
        return failed("3 is what Qwen2.5-Coder's tokenizer makes of them (each is one added token). Qwen2's tokenizer "
                      "is older: tokenize QWEN_MARKERS with `qwen2` and count.")
    if number == sum(each) != expected:
        return failed(f"{number} is the sum of the three markers tokenized one at a time; tokenized together, pieces "
                      "at the boundaries merge. Tokenize the whole string once.")
    if number in each:
        return failed(f"{number} is one marker's count; count the whole string of three.")
    if number < 1:
        return failed(f"{number} cannot be a number of tokens for a non-empty string.")
    return failed(f"{number} is not it: len(qwen2(QWEN_MARKERS, add_special_tokens=False)['input_ids']) counts them.")


def hole_task() -> dict:
    from ..fim import make_task
    from ..humaneval import load_tasks
    return make_task(load_tasks()[HOLE_PROBLEM], HOLE_LINE)


def check_my_middle(line) -> CheckResult:
    """Does the function pass HumanEval's hidden tests with ``line`` in the hole? Any line that passes is right."""
    from ..fim import grade_middle

    if line is ...:
        return not_answered("`my_line`", "one line of Python, as a string")
    if not isinstance(line, str):
        return failed(f"`my_line` must be a string holding one line of code, got {type(line).__name__}: {line!r:.80}.")
    if "\n" in line.strip("\n"):
        return failed("`my_line` must be one line: the hole is a single line (the suffix already holds the rest).")
    if not line.strip():
        return failed("`my_line` is empty: write the missing line of code (the suffix uses what it defines).")
    task = hole_task()
    ok, category, reason = grade_middle(task, line.strip("\n").strip())
    if ok:
        return passed("HumanEval's hidden tests pass with your line in the hole" +
                      (" (it is the canonical line)." if line.strip() == task["middle"] else
                       f"; the canonical line is {task['middle']!r}: a different line can be just as right."))
    return failed(f"With your line the function does not pass the hidden tests ({category}: {reason[:160]}).")
