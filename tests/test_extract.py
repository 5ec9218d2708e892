"""extract_code on the answer shapes small chat models write (issue 13), and on real answers of the embedded model."""
import json
import re
from pathlib import Path

import pytest

from deepcoder_lib.extract import extract, extract_code
from deepcoder_lib.sandbox import extract_code as reexported

DEF = "def add(a, b):\n    return a + b\n"


@pytest.mark.parametrize("text, code, how", [
    # unfenced code, then a lone closing fence before the explanation (37 of 164 HumanEval answers)
    (DEF + "```\n\nThis function adds `a` and `b`.\n```python\nadd(1, 2)\n```", DEF + "\nadd(1, 2)\n", "fenced"),
    (DEF + "```\n\nThis function returns the sum of a and b.", DEF, "before a lone closing fence"),
    # a stray empty fence before the real block
    ("```\n\n```python\n" + DEF + "```\nDone.", DEF, "fenced"),
    ("Here:\n```python\n" + DEF + "```\nIt adds.", DEF, "fenced"),
    ("```python\n" + DEF + "    # and then the token limit", DEF + "    # and then the token limit\n",
     "unterminated fence"),
    ("Sure!\n" + DEF + "\nThis adds the numbers.", DEF, "unfenced"),
    # a fence indented under a list item: its indentation is not part of the code
    ("1. Define it:\n   ```python\n   def add(a, b):\n       return a + b\n   ```\n2. Call it.", DEF, "fenced"),
    # an example given as an interpreter transcript is not code to run
    ("```python\n" + DEF + "```\nExample:\n```python\n>>> add(1, 2)\n3\n```", DEF, "fenced"),
    # unfenced def cut off at the token limit: returned, so the run reports the SyntaxError
    ("def add(a, b):\n    return (a +", "def add(a, b):\n    return (a +\n", "unfenced"),
    # a fence after text on the same line opens a block, as a person reads it (issue 23)
    ("Here it is: ```python\n" + DEF + "```\nDone.", DEF, "fenced"),
    ("Sure, here you go:```py\n" + DEF + "```", DEF, "fenced"),
    ("Here it is: ```\n" + DEF + "```", DEF, "fenced"),
    # a closing fence right after the last code line, or followed by prose on its line
    ("```python\ndef add(a, b):\n    return a + b```\nThat is all.", DEF, "fenced"),
    ("```python\n" + DEF + "``` Hope this helps!\n```python\nadd(1, 2)\n```", DEF + "\nadd(1, 2)\n", "fenced"),
])
def test_answer_shapes(text, code, how):
    found = extract(text)
    assert (found.code, found.how) == (code, how)
    assert reexported(text) == extract_code(text) == code


@pytest.mark.parametrize("text, message", [
    ("I cannot help with that.", "no python code in the answer: no ``` fence and no line that starts like code "
                                 "(def, class, import, name = ...). Ask the model for one ```python code block."),
    ("```\n```\n```python\n```", "no python code in the answer: its code blocks are empty. Ask the model for one "
                                 "```python code block."),
    ("```python\n>>> add(1, 2)\n3\n```", "no python code in the answer: its code blocks hold interpreter sessions "
                                         "(lines starting with >>>: examples of calls, not code to run)."),
    ("```js\nconsole.log(1)\n```", "no python code in the answer: its code blocks are tagged js but none tagged "
                                  "'python'. Ask"),
    ("Here it is: ```js\nconsole.log(1)\n```\n```html\n<p>\n```\n```\n```",
     "its code blocks are tagged html and js but none tagged 'python'; the others are empty."),
    ("```\n```\n```python\n>>> f()\n```", "its code blocks are empty; the others hold interpreter sessions"),
])
def test_messages_say_what_was_found(text, message):
    with pytest.raises(ValueError) as caught:
        extract_code(text)
    assert message in str(caught.value)
    assert "untagged" not in str(caught.value) and "tagged empty" not in str(caught.value)


def test_text_must_be_a_string():
    with pytest.raises(ValueError, match="`text` must be the model's answer as a str, got int"):
        extract_code(3)


# ---------------------------------------------------------------- real answers (tests/fixtures/humaneval_answers.json)
FIXTURES = json.loads((Path(__file__).parent / "fixtures" / "humaneval_answers.json").read_text(encoding="utf-8"))


def test_fixtures_are_real_reviewed_answers():
    names = [a["name"] for a in FIXTURES["answers"]]
    assert len(names) >= 30 and names == [f"HumanEval/{i}" for i in range(len(names))]
    assert FIXTURES["settings"]["temperature"] == 0.0 and all(a["review"] for a in FIXTURES["answers"])


@pytest.mark.parametrize("entry", FIXTURES["answers"], ids=[a["name"] for a in FIXTURES["answers"]])
def test_real_model_answers(entry):
    if entry["code"] is None:
        with pytest.raises(ValueError, match=re.escape(entry["error"])):
            extract(entry["answer"])
    else:
        found = extract(entry["answer"])
        assert (found.code, found.how) == (entry["code"], entry["how"]), entry["review"]
