"""deepcoder_lib.constrained: the formats' state machines, the token table, the logits processor (against a brute
force over the whole vocabulary and on the real embedded model), xgrammar on the same model, and the class server's
JSON-constrained requests on the real llama.cpp server."""
import json

import pytest
import torch
from transformers import LogitsProcessorList

from deepcoder_lib import constrained
from deepcoder_lib.constrained import Format, Run
from deepcoder_lib.inputs import prepare_batch, prepare_inputs

FIELDS = {"name": "string", "year": "integer"}
SCHEMA = {"type": "object",
          "properties": {"name": {"type": "string", "maxLength": 24}, "year": {"type": "integer"}},
          "required": ["name", "year"], "additionalProperties": False}
REQUESTS = ["Give the name and release year of the Python language as JSON with keys name and year.",
            "Reply in JSON with keys name and year: who created Linux, and when?",
            "A JSON object with keys name and year for the first version of JavaScript.",
            "Describe the C language in JSON (name, year)."]


@pytest.mark.parametrize("text, allows, complete", [
    ("", True, False), ("x", True, True), ("_x9", True, True), ("9x", False, False), ("a b", False, False),
    ("a" * 32, True, True), ("a" * 33, False, False), ("é", False, False)])
def test_identifier(text, allows, complete):
    fmt = constrained.identifier()
    assert fmt.allows(text) is allows and fmt.complete(text) is complete
    if complete:
        assert text.isidentifier()


@pytest.mark.parametrize("text, allows, complete", [
    ("", True, False), ("-", True, False), ("7", True, True), ("-42", True, True), ("042", False, False),
    ("123456", True, True), ("1234567", False, False), ("1.5", False, False), ("٣", False, False)])
def test_integer(text, allows, complete):
    fmt = constrained.integer(max_digits=6)
    assert fmt.allows(text) is allows and fmt.complete(text) is complete
    if complete:
        assert json.loads(text) == int(text)


def test_json_object_by_hand():
    """Pieces: '{"name": "', a run of string characters, '", "year": ', a digit 1-9, digits, '}'.
    The longest text: 10 + 24 + 11 + 1 + 5 + 1 = 52 characters."""
    fmt = constrained.json_object(FIELDS)
    assert fmt.max_chars == 52
    whole = '{"name": "Python", "year": 1991}'
    assert fmt.complete(whole) and json.loads(whole) == {"name": "Python", "year": 1991}
    assert all(fmt.allows(whole[:i]) for i in range(len(whole) + 1))
    assert not fmt.complete(whole[:-1]) and not fmt.allows(whole + " ")
    for wrong in ('{"year": 1991', '{"name": ""', '{"name": "a\\"', '{"name": "a", "year": 0', "{'name'"):
        assert not fmt.allows(wrong), wrong


def test_accepts_only_where_every_later_piece_may_be_empty():
    fmt = Format([Run("a", 1, 2), Run("b", 0, 2)])
    assert [fmt.complete(t) for t in ("", "a", "aa", "ab", "abb", "abbb", "b")] == [False, True, True, True, True,
                                                                                     False, False]


@pytest.mark.parametrize("pieces, says", [([], "empty"), (["", Run("a", 0, 1)], "empty literal"),
                                          ([Run("a", 2, 1)], "min <= max"), ([Run("", 0, 1)], "Run needs"),
                                          ([3], "literal strings and Runs")])
def test_bad_pieces_name_the_argument(pieces, says):
    with pytest.raises(ValueError, match="`pieces`") as info:
        Format(pieces)
    assert says in str(info.value)


@pytest.mark.parametrize("fields, says", [({}, "non-empty dict"), ({"a": "float"}, "kind 'float'"),
                                          ({'a"b': "string"}, "keys must be")])
def test_bad_fields(fields, says):
    with pytest.raises(ValueError, match="`fields`") as info:
        constrained.json_object(fields)
    assert says in str(info.value)


@pytest.fixture(scope="module")
def table(model, tokenizer):
    return constrained.token_table(tokenizer, model.config.vocab_size)


def test_token_table(model, tokenizer, table):
    assert len(table) == model.config.vocab_size
    assert all(table.strings[i] == "" for i in tokenizer.all_special_ids)
    assert "\ufffd" not in "".join(table.strings)
    ids = tokenizer('{"name": "Python"}', add_special_tokens=False)["input_ids"]
    assert "".join(table.strings[i] for i in ids) == tokenizer.decode(ids) == '{"name": "Python"}'


@pytest.mark.parametrize("fmt, prefix", [(constrained.integer(), ""), (constrained.integer(), "-4"),
                                         (constrained.identifier(), "ab"), (constrained.json_object(FIELDS), ""),
                                         (constrained.json_object(FIELDS), '{"name": "Py'),
                                         (constrained.json_object(FIELDS), '{"name": "Python", "year": 19')])
def test_allowed_ids_equal_a_brute_force_over_the_vocabulary(fmt, prefix, table):
    state = fmt.walk(fmt.start, prefix)
    brute = [i for i, s in enumerate(table.strings) if s and fmt.allows(prefix + s)]
    assert constrained.allowed_ids(fmt, table, state) == brute and brute


def test_processor_masks_not_in_place_and_keeps_eos_only_when_complete(model, table):
    eos = model.generation_config.eos_token_id
    proc = constrained.FormatLogitsProcessor(constrained.integer(max_digits=2), table, eos, prompt_length=1)
    digit_7, digit_5 = table.strings.index("7"), table.strings.index("5")
    scores = torch.randn(1, len(table))
    before = scores.clone()
    out = proc(torch.tensor([[0]]), scores)  # nothing written yet: digits 1-9, "-", no EOS
    assert torch.equal(scores, before) and torch.isinf(out[0, eos]) and torch.isfinite(out[0, digit_7])
    assert proc.removed[-1] == pytest.approx(constrained.removed_mass(scores, out))
    out = proc(torch.tensor([[0, digit_7, digit_5]]), scores)  # "75": full, so only EOS is left
    assert torch.isfinite(out[0]).sum() == 1 and torch.isfinite(out[0, eos])


def test_processor_refuses_text_outside_the_format(model, table):
    proc = constrained.FormatLogitsProcessor(constrained.integer(), table, model.generation_config.eos_token_id, 0)
    with pytest.raises(ValueError, match="prompt_length"):
        proc(torch.tensor([[table.strings.index("x")]]), torch.zeros(1, len(table)))
    with pytest.raises(ValueError, match="`eos_token_id`"):
        constrained.FormatLogitsProcessor(constrained.integer(), table, None, 0)


@pytest.mark.slow
def test_constrained_answers_always_parse_and_match_the_schema(model, tokenizer, table):
    """Each request in one batch (left padding), greedy, with enough tokens for the longest value: every answer is
    a JSON object with exactly the schema's keys and types, through the course's processor and through xgrammar.
    (How often the unconstrained answers parse is measured in benchmarks/bench_constrained.py, not asserted.)"""
    batch = prepare_batch(tokenizer, [[{"role": "user", "content": r}] for r in REQUESTS], model=model)
    fmt = constrained.json_object(FIELDS)
    ours = constrained.FormatLogitsProcessor(fmt, table, model.generation_config.eos_token_id,
                                             batch["input_ids"].shape[1])
    theirs = constrained.grammar_processor(tokenizer, model.config.vocab_size, json_schema=SCHEMA)
    for processor, max_new_tokens in ((ours, fmt.max_chars + 1), (theirs, 64)):
        with torch.inference_mode():
            out = model.generate(**batch, do_sample=False, max_new_tokens=max_new_tokens,
                                 logits_processor=LogitsProcessorList([processor]),
                                 pad_token_id=tokenizer.pad_token_id or tokenizer.eos_token_id)
        for text in tokenizer.batch_decode(out[:, batch["input_ids"].shape[1]:], skip_special_tokens=True):
            value = json.loads(text)
            assert set(value) == set(FIELDS) and isinstance(value["name"], str), text
            assert isinstance(value["year"], int) and not isinstance(value["year"], bool), text


@pytest.mark.slow
def test_xgrammar_ebnf_matches_the_course_format(model, tokenizer, table):
    """The same whole number, once by the course's machine and once by an xgrammar EBNF grammar: the same answer."""
    inputs = prepare_inputs(tokenizer, [{"role": "user", "content": "In which year was Python first released?"}],
                            model=model)
    n = inputs["input_ids"].shape[1]
    ours = constrained.FormatLogitsProcessor(constrained.integer(max_digits=4), table,
                                             model.generation_config.eos_token_id, n)
    theirs = constrained.grammar_processor(tokenizer, model.config.vocab_size,
                                           ebnf='root ::= "-"? [1-9] [0-9]? [0-9]? [0-9]?')
    answers = []
    for processor in (ours, theirs):
        with torch.inference_mode():
            out = model.generate(**inputs, do_sample=False, max_new_tokens=6,
                                 logits_processor=LogitsProcessorList([processor]))
        answers.append(tokenizer.decode(out[0, n:], skip_special_tokens=True))
    assert answers[0] == answers[1] and constrained.integer(4).complete(answers[0]), answers


def test_grammar_processor_needs_one_grammar(tokenizer):
    with pytest.raises(ValueError, match="exactly one"):
        constrained.grammar_processor(tokenizer, 49152)


def test_plot_removed_mass():
    ax = constrained.plot_removed_mass([0.9, 0.1, 0.0], ["{", "Py", "}"], [True, False, False])
    assert [t.get_text() for t in ax.get_xticklabels()] == ["{", "Py", "}"]
    assert {t.get_text() for t in ax.get_legend().get_texts()} == {"model's first choice removed",
                                                                  "model's first choice allowed"}
    assert ax.patches[0].get_hatch() == "//" and not ax.patches[1].get_hatch()
    assert "mass removed" in ax.get_ylabel()
    with pytest.raises(ValueError, match="one entry per step"):
        constrained.plot_removed_mass([0.5], [], [True])


@pytest.mark.slow
def test_the_class_server_constrains_json_and_grammars(llama_server):
    """llama.cpp's server (llama-cpp-python 0.3.36): a schema in `response_format` ({"type": "json_object",
    "schema": ...}) and a GBNF `grammar` in extra_body both give text that parses; OpenAI's own form
    {"type": "json_schema", ...} is refused by this server version (a clear error, not silently ignored)."""
    from deepcoder_lib import server
    from deepcoder_lib.decoding import Decoding

    srv = server.connect()
    messages = [{"role": "user", "content": REQUESTS[0]}]
    body = Decoding(max_new_tokens=48).request_body()
    try:
        reply = srv.client.chat.completions.create(model=srv.model, messages=messages, **body,
                                                   response_format={"type": "json_object", "schema": SCHEMA})
        value = json.loads(reply.choices[0].message.content)
        assert set(value) == set(FIELDS) and isinstance(value["year"], int), value
        gbnf = r'root ::= "{\"name\": \"" [A-Za-z ]{1,20} "\", \"year\": " [1-9] [0-9]{0,3} "}"'
        reply = srv.client.chat.completions.create(model=srv.model, messages=messages, **{
            **body, "extra_body": {**body["extra_body"], "grammar": gbnf}})
        assert constrained.json_object(FIELDS).complete(reply.choices[0].message.content), reply
        with pytest.raises(Exception, match="json_object"):
            srv.client.with_options(max_retries=0).chat.completions.create(
                model=srv.model, messages=messages, **body,
                response_format={"type": "json_schema", "json_schema": {"name": "language", "schema": SCHEMA}})
    finally:
        srv.close()


def test_parses():
    assert constrained.parses('{"a": 1}') and constrained.parses("7")
    assert not constrained.parses("{'a': 1}") and not constrained.parses("") and not constrained.parses('{"a": 1')


def test_stored_results_say_where_they_came_from_and_agree_with_their_answers():
    """benchmarks/constrained_results.json: machine, date, load, versions and knobs; every rate recomputed from the
    stored answers; both constrained ways parsed and matched the schema every time (the unconstrained rate is only
    measured: it is the model's, not asserted here)."""
    import importlib.metadata as md
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from bench_constrained import REQUESTS as BENCH_REQUESTS, matches_schema

    stored = constrained.load_results()
    machine = stored["machine"]
    assert stored["date"] and machine["cpu"] and len(machine["load_average_at_start"]) == 3
    assert machine["xgrammar"] == md.version("xgrammar") and machine["transformers"] == md.version("transformers")
    assert stored["decoding"]["do_sample"] is False and stored["decoding"]["max_new_tokens"] > stored[
        "course_format_max_chars"]
    for way, summary in stored["summary"].items():
        rows = [a for a in stored["answers"] if a["way"] == way]
        assert [a["request"] for a in rows] == BENCH_REQUESTS
        assert summary["parse_rate"] == sum(matches_schema(a["text"])[0] for a in rows) / len(rows)
        assert summary["schema_rate"] == sum(matches_schema(a["text"])[1] for a in rows) / len(rows)
        tokens, seconds = sum(a["new_tokens"] for a in rows), sum(a["seconds"] for a in rows)
        assert summary["tokens_per_s"] == pytest.approx(tokens / seconds, rel=0.01)
    assert stored["summary"]["course processor"]["schema_rate"] == 1.0
    assert stored["summary"]["xgrammar"]["schema_rate"] == 1.0
    assert 0.0 <= stored["summary"]["unconstrained"]["parse_rate"] <= 1.0


def test_load_results_names_a_missing_file(tmp_path):
    with pytest.raises(ValueError, match="`path`.*bench_constrained.py"):
        constrained.load_results(tmp_path / "nothing.json")
