"""The bootstrap band over problems and the n >= 2k rule (pass_at_k itself: tests/test_evaluation.py)."""
import math

import pytest

from deepcoder_lib.passk import bootstrap_band, estimate, samples_needed, too_few_samples


def test_all_equal_scores_give_a_zero_width_band():
    assert bootstrap_band([1.0] * 164) == (1.0, 1.0)
    assert bootstrap_band([0.0] * 20) == (0.0, 0.0)
    assert bootstrap_band([0.25] * 3) == (0.25, 0.25)


@pytest.mark.parametrize("tasks, passes", [(200, 60), (164, 8), (400, 200)])
def test_a_binomial_case_matches_the_normal_approximation(tasks, passes):
    """Resampling 0/1 scores: the mean's spread is sqrt(p(1-p)/N); 200 tasks, p=0.3: 0.3 +- 1.96 * 0.0324."""
    p = passes / tasks
    half = 1.96 * math.sqrt(p * (1 - p) / tasks)
    low, high = bootstrap_band([1] * passes + [0] * (tasks - passes))
    assert low == pytest.approx(p - half, abs=0.2 * half) and high == pytest.approx(p + half, abs=0.2 * half)


def test_the_band_is_seeded_and_ordered():
    scores = [1, 0, 0, 1, 0, 0, 0, 1, 0.5, 0.25]
    assert bootstrap_band(scores, seed=3) == bootstrap_band(scores, seed=3)
    low, high = bootstrap_band(scores)
    assert low < sum(scores) / len(scores) < high
    narrow = bootstrap_band(scores, confidence=0.5)
    assert low <= narrow[0] <= narrow[1] <= high


@pytest.mark.parametrize("kwargs, message", [
    (dict(values=[]), r"`values` must be a non-empty list of per-problem scores, got shape \(0,\)"),
    (dict(values=[1], confidence=95), r"`confidence` must be in \(0, 1\), got 95; 0.95 gives a 95% band"),
    (dict(values=[1], resamples=0), "`resamples` must be a positive whole number, got 0; 2000 is plenty"),
])
def test_band_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        bootstrap_band(**kwargs)


def test_pass_at_k_needs_2k_samples():
    assert [samples_needed(k) for k in (1, 2, 5)] == [1, 4, 10]
    assert too_few_samples(1, 1) == "" and too_few_samples(10, 5) == ""
    assert too_few_samples(9, 5).startswith("pass@5 needs n >= 10 answers per task (2k), got n=9: not reported")
    entry = estimate({"a": [True, False, False, False], "b": [False] * 5}, ks=(1, 2, 3))
    assert entry["n"] == 4 and entry["pass@1"] == pytest.approx(0.125)  # (1/4 + 0) / 2
    assert entry["pass@2"] == pytest.approx(0.25)  # task a: 1 - C(3,2)/C(4,2) = 1/2; task b: 0
    assert math.isnan(entry["pass@3"]) and "pass@3 needs n >= 6" in entry["note"]
