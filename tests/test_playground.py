"""The tokenizer playground without a browser: set the widgets' values, read the spans it rendered."""
from html.parser import HTMLParser

import pytest

from deepcoder_lib import playground
from deepcoder_lib.tokens import load_tokenizers, tokenize


class Spans(HTMLParser):
    """Collects the token spans (class, id, title, text) per tokenizer block of a rendering."""

    def __init__(self, markup: str):
        super().__init__(convert_charrefs=True)
        self.blocks, self.stack, self.views = {}, [], 0
        self.feed(markup)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        classes = (attrs.get("class") or "").split()
        self.views += playground.RENDER_CLASS in classes
        if playground.BLOCK_CLASS in classes:
            self.block = self.blocks.setdefault(attrs["data-tokenizer"], [])
        if playground.TOKEN_CLASS in classes:
            self.block.append({"classes": classes, "id": int(attrs["data-token-id"]),
                               "title": attrs["title"], "text": ""})
        self.stack.append(playground.TOKEN_CLASS in classes)

    def handle_endtag(self, tag):
        self.stack.pop()

    def handle_data(self, data):
        if self.stack and self.stack[-1]:
            self.block[-1]["text"] += data


@pytest.fixture(scope="module")
def tokenizers():
    return load_tokenizers()


@pytest.fixture()
def pg(tokenizers):
    return playground.make_playground(tokenizers)


def test_typing_renders_one_span_per_token(pg, tokenizers):
    assert pg.text.continuous_update is True and playground.VIEW_CLASS in pg.view._dom_classes
    pg.text.value = "Hello world"
    spans = Spans(pg.view.value)
    assert spans.views == 1 and list(spans.blocks) == list(tokenizers)
    for name, tokenizer in tokenizers.items():
        assert [s["id"] for s in spans.blocks[name]] == tokenizer("Hello world")["input_ids"]
    hello, world = spans.blocks["qwen2"]
    assert (hello["id"], world["id"]) == (9707, 1879)
    assert "id 1879" in world["title"] and "'Ġworld'" in world["title"] and world["text"] == "·world"
    assert pg.results["qwen2"]["n_tokens"] == 2


def test_spans_spell_the_text_exactly(pg):
    text = "def f(x):\n\treturn  x  # 🤗 café\n"
    pg.show_whitespace.value = False
    pg.text.value = text
    for name, spans in Spans(pg.view.value).blocks.items():
        # partial-character tokens show escapes, so compare on the emoji-free part
        spelled = "".join(s["text"] for s in spans)
        assert spelled.startswith("def f(x):\n\treturn  x  # ") and spelled.endswith(" café\n"), name
        assert any("deepcoder-token-partial" in s["classes"] for s in spans)


def test_whitespace_is_made_visible(pg):
    pg.text.value = "\tx = 1\n"
    spans = Spans(pg.view.value).blocks["smollm2"]
    assert "".join(s["text"] for s in spans) == "→x·=·1↵\n"


def test_choices_pick_the_tokenizers(pg):
    pg.choices.value = ("deepseek",)
    assert list(Spans(pg.view.value).blocks) == ["deepseek"] and list(pg.results) == ["deepseek"]
    pg.choices.value = ()
    assert "Pick at least one tokenizer" in pg.view.value


def test_counts_and_round_trip_status(pg):
    pg.text.value = "caf" + "e\N{COMBINING ACUTE ACCENT}"
    view = pg.view.value
    qwen2_block = view.split('data-tokenizer="qwen2"')[1].split('data-tokenizer="deepseek"')[0]
    assert "round trip ✗" in qwen2_block and pg.results["qwen2"]["round_trip_ok"] is False
    assert view.split('data-tokenizer="smollm2"')[1].split('data-tokenizer="qwen2"')[0].count("round trip ✓") == 1
    assert f"<b>{pg.results['smollm2']['n_tokens']}</b> tokens, 5 characters" in view


def test_special_tokens_are_marked(pg, tokenizers):
    prompt = tokenizers["smollm2"].apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False)
    pg.text.value = prompt
    spans = Spans(pg.view.value).blocks["smollm2"]
    special = [s["text"] for s in spans if "deepcoder-token-special" in s["classes"]]
    assert special == ["<|im_start|>", "<|im_end|>"] * 2


def test_show_ids(pg):
    pg.text.value = "Hello world"
    assert "<sub" not in pg.view.value
    pg.show_ids.value = True
    assert '9707</sub>' in pg.view.value


def test_text_is_escaped(pg):
    pg.show_whitespace.value = False
    pg.text.value = '<script>alert("x")</script>'
    assert "<script" not in pg.view.value and "&lt;" in pg.view.value
    for spans in Spans(pg.view.value).blocks.values():
        assert "".join(s["text"] for s in spans) == pg.text.value


def test_long_text_is_cut_for_the_browser(tokenizers):
    markup = playground.tokens_html(tokenize(tokenizers["smollm2"], "x = 1\n" * 1000), max_tokens=50)
    assert markup.count(f'class="{playground.TOKEN_CLASS}') == 50 and "more tokens not shown" in markup


def test_errors_show_in_the_view_instead_of_vanishing():
    pg = playground.make_playground({"not a tokenizer": object()})
    assert "Traceback" in pg.view.value and "TypeError" in pg.view.value


def test_make_playground_rejects_a_list(tokenizers):
    with pytest.raises(ValueError, match=r"`tokenizers` must be a non-empty dict \{name: tokenizer\}, got list"):
        playground.make_playground(list(tokenizers.values()))


def test_show_tokens_returns_displayable_html(tokenizers):
    shown = playground.show_tokens("x = 1", {"qwen2": tokenizers["qwen2"]})
    # only the live playground carries VIEW_CLASS, so a browser test's `.deepcoder-token-view` finds it
    assert playground.VIEW_CLASS not in shown.data
    assert Spans(shown.data).views == 1 and 'data-tokenizer="qwen2"' in shown.data
