"""The statistics of pass@k: the unbiased estimator, when to report it, and a bootstrap band over problems.

Pure functions on numbers; ``evaluation.summarize`` groups graded rows and calls them. Kept apart
from evaluation.py (generation, grading, the CLI) because this is the maths a learner checks by hand.

Two sources of uncertainty, two rules:
  * per problem, ``pass_at_k(n, c, k)`` is unbiased for any n >= k, but with n = k it is a single
    yes/no ("did any of the k pass?"). ``MIN_SAMPLES_PER_K`` = 2: pass@k (k >= 2) is reported only
    with n >= 2k answers per problem, the ratio of the Codex paper (n = 200 for k <= 100). pass@1 is
    c/n, reported for any n >= 1 (greedy decoding needs only one answer);
  * across problems, the suite is a sample of the problems one cares about. ``bootstrap_band``
    resamples the problems with replacement (fixed seed) and takes the 2.5th and 97.5th percentiles
    of the mean: with 164 problems and 8 passes, pass@1 = 0.049 has a band of about 0.018 to 0.085.
"""
from __future__ import annotations

import math

from .checks import positive_int, whole_number

MIN_SAMPLES_PER_K = 2
RESAMPLES = 2000


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k from n samples of which c passed: 1 - C(n-c, k) / C(n, k).

    Computed as 1 - prod_{i=n-c+1}^{n} (1 - k/i) (Chen et al. 2021), which never forms the huge
    binomials. It is the chance that k samples drawn without replacement from the n include a pass.
    """
    for name, value in (("n", n), ("c", c), ("k", k)):
        whole_number(value, name, minimum=0, hint="a count of answers")
    if c > n:
        raise ValueError(f"`c` (passing samples) cannot exceed `n` (samples), got c={c} > n={n}")
    if not 1 <= k <= n:
        raise ValueError(f"`k` must be between 1 and n={n}, got k={k}; draw at least k samples per task")
    if n - c < k:
        return 1.0
    return 1.0 - math.prod(1.0 - k / i for i in range(n - c + 1, n + 1))


def samples_needed(k: int) -> int:
    """Answers per problem before pass@k is reported: 1 for k = 1, else ``MIN_SAMPLES_PER_K * k``."""
    return 1 if k == 1 else MIN_SAMPLES_PER_K * k


def too_few_samples(n: int, k: int) -> str:
    """'' when n answers per problem are enough for pass@k, else a sentence naming n and k."""
    need = samples_needed(k)
    if n >= need:
        return ""
    return (f"pass@{k} needs n >= {need} answers per task (2k), got n={n}: not reported; "
            f"sample more answers (-n {need}) or use a smaller k")


def bootstrap_band(values, *, confidence: float = 0.95, resamples: int = RESAMPLES, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap of the mean of ``values`` (one per problem): resample problems with replacement.

    Returns the (1 - confidence)/2 and (1 + confidence)/2 quantiles of ``resamples`` resampled means;
    the same ``seed`` gives the same band. All values equal gives a zero-width band.
    """
    import numpy as np

    values = np.asarray(values, dtype=float)
    if values.ndim != 1 or len(values) == 0:
        raise ValueError(f"`values` must be a non-empty list of per-problem scores, got shape {values.shape}")
    if not 0 < confidence < 1:
        raise ValueError(f"`confidence` must be in (0, 1), got {confidence}; 0.95 gives a 95% band")
    positive_int(resamples, "resamples", "2000 is plenty")
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, len(values), size=(resamples, len(values)))].mean(axis=1)
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return float(low), float(high)


def estimate(per_task: dict[str, list[bool]], ks=(1,), *, seed: int = 0) -> dict:
    """pass@k over problems for each k, with ``pass@k_low``/``_high`` (95% bootstrap band) and a ``note``.

    ``per_task`` maps each problem to its answers' verdicts. n is the smallest number of answers any
    problem has; a pass@k that n does not support is NaN (and its band), and ``note`` says why.
    """
    n = min(len(v) for v in per_task.values())
    entry, notes = {"tasks": len(per_task), "n": n}, []
    for k in ks:
        reason = too_few_samples(n, k)
        if reason:
            entry[f"pass@{k}"] = entry[f"pass@{k}_low"] = entry[f"pass@{k}_high"] = math.nan
            notes.append(reason)
            continue
        scores = [pass_at_k(len(v), sum(v), k) for v in per_task.values()]
        entry[f"pass@{k}"] = sum(scores) / len(scores)
        entry[f"pass@{k}_low"], entry[f"pass@{k}_high"] = bootstrap_band(scores, seed=seed)
    entry["note"] = "; ".join(notes)
    return entry
