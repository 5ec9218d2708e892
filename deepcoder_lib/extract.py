"""Find the code in a model's answer, reading ``` fences the way small chat models write them.

``extract(text)`` returns an ``Extraction`` (the code, and ``how`` it was found); ``extract_code``
returns only the code and raises ValueError with a message that says what the answer contained.
The rules: fenced blocks tagged ``language`` (or untagged) with code in them, joined in order; a fence
pairs with the next fence, except that a tagged fence always opens a block and a first, untagged fence
right after code-looking lines closes that code; a lone closing fence after unfenced code (the code is
what comes before it, the prose after is dropped); an unterminated block (the answer hit
``max_new_tokens``); unfenced code from its first code-looking line. Empty fences are skipped, and so
are blocks that are interpreter transcripts (``>>> f(1)`` and its output: an example, not code to run).
A fence indented by a list item indents its code the same: that indentation is removed (as Markdown
does). ``sandbox.py`` re-exports ``extract_code``.
"""
from __future__ import annotations

import ast
import re
from dataclasses import dataclass

_FENCE_LINE = re.compile(r"^[ \t]*```[ \t]*([\w+#.-]*)[^\n`]*$")
_ALIASES = {"python": {"python", "py", "python3", "py3"}, "html": {"html", "htm"},
            "javascript": {"javascript", "js"}}
# a fence after text on the same line: "Here it is: ```python" (opens) or "    return x```" (closes)
_FENCE_AFTER_TEXT = re.compile(r"^(?P<text>[^`]*?\S)[ \t]*(?P<fence>```[ \t]*[\w+#.-]*)[ \t]*$")
_CODE_START = re.compile(r"^(def |class |import |from \S+ import |@\w|async def |if __name__|[A-Za-z_]\w* = )")


@dataclass
class Extraction:
    """The code found and how: "fenced", "before a lone closing fence", "unterminated fence", "unfenced"."""
    code: str
    how: str


def _parses(source: str) -> bool:
    try:
        ast.parse(source)
        return True
    except (SyntaxError, ValueError):
        return False


def _dedent(line: str, indent: int) -> str:
    """``line`` without up to ``indent`` leading spaces: a fence indented in a list indents its code too."""
    return line[min(indent, len(line) - len(line.lstrip(" "))):]


def _unfenced(lines: list[str]) -> str | None:
    start = next((i for i, line in enumerate(lines) if _CODE_START.match(line)), None)
    if start is None:
        return None
    for end in range(len(lines), start, -1):
        candidate = "\n".join(lines[start:end]).strip()
        if _parses(candidate):
            return candidate + "\n"
    return "\n".join(lines[start:]).strip() + "\n"  # cut off mid-statement: let the run say SyntaxError


def _tag(line: str, word: str) -> str:
    """The fence's language; "" for a closing fence followed by prose ("``` Hope this helps!")."""
    words = line.strip()[3:].split()
    known = word in set().union(*_ALIASES.values()) or word in ("bash", "sh", "json", "text", "css", "sql")
    return word if len(words) <= 1 or known else ""


def _why_none(kinds: set[str], language: str) -> str:
    """Why no block held code, in one plain clause: other languages, empty blocks, interpreter sessions."""
    parts = []
    others = sorted(kinds - {"empty", "transcript"})
    if others:
        parts.append(f"its code blocks are tagged {' and '.join(others)} but none tagged {language!r}")
    if "empty" in kinds:
        parts.append("its code blocks are empty" if not parts else "the others are empty")
    if "transcript" in kinds:
        parts.append(("the others hold" if parts else "its code blocks hold") +
                     " interpreter sessions (lines starting with >>>: examples of calls, not code to run)")
    return "; ".join(parts)


def extract(text: str, language: str = "python") -> Extraction:
    """The ``language`` code in ``text`` and how it was found (rules in the module docstring)."""
    if not isinstance(text, str):
        raise ValueError(f"`text` must be the model's answer as a str, got {type(text).__name__}")
    wanted = _ALIASES.get(language.lower(), {language.lower()})
    lines = []
    for line in text.splitlines():  # a fence that follows text on its line starts its own line, as a person reads it
        found = _FENCE_AFTER_TEXT.match(line)
        lines += [found["text"], found["fence"]] if found else [line]
    fences = [(i, _tag(line, m.group(1).lower())) for i, line in enumerate(lines) if (m := _FENCE_LINE.match(line))]
    blocks, open_at, tags = [], None, set()
    for number, (i, tag) in enumerate(fences):
        if open_at is None:
            before = lines[(blocks[-1][1] + 1) if blocks else 0:i]
            if number == 0 and not tag and _unfenced(before) is not None and \
                    _CODE_START.match(next((ln for ln in before if ln.strip()), "")):
                blocks.append(("", -1, i, True))  # a lone closing fence after unfenced code
                continue
            open_at, open_tag = i, tag
        else:
            if tag and tag != open_tag:  # a tagged fence always opens: the previous block never closed
                blocks.append((open_tag, open_at, i, False))
                open_at, open_tag = i, tag
                continue
            blocks.append((open_tag, open_at, i, True))
            open_at = None
    if open_at is not None:
        blocks.append((open_tag, open_at, len(lines), False))
    found = []
    for tag, start, end, closed in blocks:
        indent = len(lines[start]) - len(lines[start].lstrip(" ")) if start >= 0 else 0
        body = "\n".join(_dedent(line, indent) for line in lines[start + 1:end]).strip("\n")
        tags.add(tag if tag and tag not in wanted else "transcript" if body.lstrip().startswith(">>>") else "empty")
        if body.lstrip().startswith(">>>"):
            continue  # an interpreter transcript (>>> calls and their output): an example, not the code
        if (tag in wanted or not tag) and body.strip():
            found.append((body, "before a lone closing fence" if start == -1 else "fenced" if closed else
                          "unterminated fence"))
    if found:  # all code blocks in order (a later def overrides an earlier one, as Python does)
        return Extraction("\n\n".join(body for body, _ in found) + "\n", found[-1][1])
    if language.lower() == "python":
        code = _unfenced(lines if not fences else [])
        if code is not None:
            return Extraction(code, "unfenced")
    if blocks:
        raise ValueError(f"no {language} code in the answer: {_why_none(tags, language)}. "
                         f"Ask the model for one ```{language} code block.")
    raise ValueError(f"no {language} code in the answer: no ``` fence and no line that starts like code "
                     f"(def, class, import, name = ...). Ask the model for one ```{language} code block.")


def extract_code(text: str, language: str = "python") -> str:
    """Return the ``language`` code in a model's answer (see ``extract``); ValueError says what was found."""
    return extract(text, language).code
