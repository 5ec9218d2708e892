"""The one decoding settings object and its one rule per knob (no model, no server, no torch needed but for a
tensor-valued slider): ``Decoding``, the sampling maths' ``coerce_settings`` and the command line accept and refuse
the same values with the same messages."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from deepcoder_lib import checks, decoding, evaluation_cli, sampling
from deepcoder_lib.decoding import Decoding

BAD = [  # (knob, value, message): the message names the knob, echoes the value and says what to do
    ("temperature", -1, r"`temperature` must be a finite number >= 0, got -1; use 1\.0 to leave the logits unchanged"),
    ("temperature", math.inf, r"`temperature` must be a finite number >= 0, got inf"),
    ("temperature", "hot", r"`temperature` must be a number, got 'hot'; use 1\.0"),
    ("temperature", "0.5", r"`temperature` must be a number, got '0\.5'"),
    ("temperature", float("nan"), r"`temperature` must be a number, got nan"),
    ("temperature", True, r"`temperature` must be a number, got True"),
    ("top_k", -1, r"`top_k` must be a whole number >= 0, got -1; use 0 to switch top-k off"),
    ("top_k", 2.5, r"`top_k` must be a whole number >= 0, got 2\.5"),
    ("top_k", True, r"`top_k` must be a number, got True"),
    ("top_p", 1.5, r"`top_p` must be in \(0, 1\], got 1\.5; use 1\.0 to switch top-p off"),
    ("top_p", 0, r"`top_p` must be in \(0, 1\], got 0; use 1\.0 to switch top-p off \(top_p=0 would keep nothing"),
    ("min_p", 2, r"`min_p` must be in \[0, 1\], got 2; use 0\.0 to switch min-p off"),
    ("min_p", None, r"`min_p` must be a number, got None"),
]


@pytest.mark.parametrize("knob, value, message", BAD)
def test_decoding_and_the_sliders_refuse_the_same_values_alike(knob, value, message):
    with pytest.raises(ValueError, match=message):
        Decoding(**{"temperature": 0.8, knob: value})
    with pytest.raises(ValueError, match=message):
        sampling.coerce_settings(**{knob: value})


@pytest.mark.parametrize("knob, value, clean", [
    ("temperature", 0, 0.0), ("temperature", np.float32(0.5), 0.5), ("temperature", torch.tensor(1.5), 1.5),
    ("top_k", 3.0, 3), ("top_k", np.int64(40), 40), ("top_k", torch.tensor(5), 5), ("top_k", 0, 0),
    ("top_p", 1, 1.0), ("top_p", np.float64(0.95), 0.95), ("min_p", torch.tensor(0.05), 0.05),
])
def test_decoding_and_the_sliders_accept_the_same_values_alike(knob, value, clean):
    assert getattr(Decoding(**{"temperature": 0.8, knob: value}), knob) == pytest.approx(clean)
    assert sampling.coerce_settings(**{knob: value})[knob] == pytest.approx(clean)
    assert type(sampling.coerce_settings(**{knob: value})[knob]) is (int if knob == "top_k" else float)


def test_decoding_is_checked_once_with_errors_that_name_the_argument():
    for bad, message in (({"max_new_tokens": 0}, "`max_new_tokens` must be a positive whole number, got 0"),
                         ({"repetition_penalty": 0}, r"`repetition_penalty` must be a positive number, got 0; "
                                                     r"use 1\.0 to switch it off"),
                         ({"repetition_penalty": math.inf}, "`repetition_penalty` must be a positive number, got inf"),
                         ({"seed": -1}, "`seed` must be a whole number >= 0, got -1"),
                         ({"stop": [""]}, "`stop` must be a string or a list of non-empty strings")):
        with pytest.raises(ValueError, match=message):
            Decoding(**bad)
    with pytest.raises(ValueError, match=r"\['num_beams'\] cannot be set here"):
        Decoding.from_generate_kwargs(num_beams=4)
    assert Decoding.from_generate_kwargs() == Decoding()
    assert Decoding.from_generate_kwargs(do_sample=True, top_k=5) == Decoding(temperature=1.0, top_k=5)
    assert Decoding.from_generate_kwargs(do_sample=False, temperature=0.7).greedy
    assert Decoding.from_generate_kwargs(stop_strings=["```\n"]).stop == ("```\n",)
    assert Decoding(temperature=0.8, top_k=5).generate_kwargs() == {
        "max_new_tokens": 96, "repetition_penalty": 1.0, "do_sample": True, "temperature": 0.8, "top_k": 5,
        "top_p": 1.0, "min_p": None}


def test_a_caller_names_the_knob_as_its_user_typed_it():
    with pytest.raises(ValueError, match=r"`--top-p` must be in \(0, 1\], got 2; use 1\.0"):
        decoding.check_top_p(2, "--top-p")
    with pytest.raises(ValueError, match=r"`penalty` must be a positive number, got -1; use 1\.0 to switch it off"):
        decoding.check_repetition_penalty(-1, "penalty")


@pytest.mark.parametrize("argv, message", [
    (["--temperatures", "0,-0.5"], r"`--temperatures` must be a finite number >= 0, got -0\.5"),
    (["--top-p", "1.5"], r"`--top-p` must be in \(0, 1\], got 1\.5"),
    (["--max-new-tokens", "-3"], r"`--max-new-tokens` must be a positive whole number, got -3"),
])
def test_the_command_line_uses_the_same_rules(argv, message, capsys):
    with pytest.raises(SystemExit):
        evaluation_cli.parse(argv)
    assert message.replace("\\", "") in capsys.readouterr().err


@pytest.mark.parametrize("call, message", [
    (lambda: checks.number([0.5], "x"), r"`x` must be a number, got \[0\.5\]"),
    (lambda: checks.number(torch.tensor([0.5, 0.6]), "x", "one value"), r"`x` must be a number, got tensor.*; one value"),
    (lambda: checks.positive_number(0, "timeout", "e.g. 5"), r"`timeout` must be a positive number, got 0; e\.g\. 5"),
    (lambda: checks.positive_number(-2.5, "lora_alpha"), r"`lora_alpha` must be a positive number, got -2\.5$"),
    (lambda: checks.positive_int(2.0, "n"), r"`n` must be a positive whole number, got 2\.0"),
    (lambda: checks.whole_number(5, "start_step", minimum=0, maximum=2), r"from 0 to 2, got 5"),
])
def test_the_shared_checks(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_the_shared_checks_accept_numbers_of_every_kind():
    assert [checks.number(v, "x") for v in (1, 0.5, np.float32(0.25), torch.tensor(2.0))] == [1.0, 0.5, 0.25, 2.0]
    assert checks.positive_number(np.int64(3), "x") == 3.0
    assert checks.positive_int(np.int64(3), "n") == 3
