"""Metric names: which metric a benchmark column takes, and the direction a name implies.

A benchmark column is one (task, metric, filter). A source often reports several metrics for
one task (``acc`` and ``acc_norm``; ``acc`` and ``ppl``; a harness group lists every metric of
its subtasks, in an order that changes from file to file). The column's metric is chosen once,
over all the files, by this rule (never by the order of the keys in a file):

1. the metric ``--metric BENCH=METRIC`` names, else the one a named capability set gives;
2. else, when every file reports the same single metric, that one;
3. else the first metric of :data:`PREFERRED` that every file reports (filter ``none``, then
   ``strict-match``, then the others by name);
4. else, for formats whose metric order means something (inspect_ai's scorer order, a
   leaderboard's main column), the metric every file puts first;
5. else the import stops and names the metrics found and the ``--metric`` that would choose.

A metric written without a filter (lm-evaluation-harness before 0.4: ``acc``) is the same as
with the identity filter (``acc,none``).

Direction by name (:func:`direction_by_name`): perplexities, bits per byte, ``pct_stereotype``,
calibration errors, Brier scores, toxicity and bias fractions are lower-is-better; accuracies,
exact match, F1, BLEU and ROUGE higher-is-better. A direction the source states always wins.
"""

from __future__ import annotations

import re

__all__ = ["PREFERRED", "base_name", "same_metric", "choose", "direction_by_name"]

#: Metric base names in order of preference, when a task reports several.
PREFERRED = (
    "acc", "accuracy", "exact_match", "acc_norm", "mc2", "mc1", "f1", "em", "mean", "score",
    "pct_stereotype", "word_perplexity", "byte_perplexity", "bits_per_byte", "perplexity", "ppl",
)
#: Filters in order of preference; any other filter comes after these, by name.
_FILTERS = ("none", "strict-match")

_LOWER = re.compile(
    r"(^|_)(ppl|perplexity|word_perplexity|byte_perplexity|bits_per_byte|bpb|pct_stereotype|"
    r"ece|rmsce|ce|calibration_error|brier|brier_score|toxicity|toxic_fraction|toxicity_fraction|"
    r"bias_fraction|stereotype|expected_max_toxicity|toxicity_probability|max_toxicity|loss|nll|"
    r"error_rate|wer|cer|mae|mse|rmse)($|_)",
    re.IGNORECASE,
)
_HIGHER = re.compile(
    r"^(acc|accuracy|acc_norm|acc_mutual_info|exact_match|quasi_exact_match|prefix_exact_match|em|"
    r"f1|macro_f1|micro_f1|mc1|mc2|bleu\w*|rouge\w*|chrf|mcc|"
    r"exact|match|pass@\d+|pass_at_\d+)$",
    re.IGNORECASE,
)


def base_name(metric: str) -> tuple[str, str]:
    """``(name, filter)`` of a metric key: ``"acc,none"`` -> ``("acc", "none")``; ``"acc"`` too."""
    name, _, filt = str(metric).partition(",")
    return name, filt or "none"


def same_metric(want: str, have: str) -> bool:
    """True when ``have`` is the metric ``want`` names (``acc`` and ``acc,none`` are the same)."""
    return want == have or base_name(want) == base_name(have)


def _rank(metric: str):
    name, filt = base_name(metric)
    f = _FILTERS.index(filt) if filt in _FILTERS else len(_FILTERS)
    return (PREFERRED.index(name), f, filt)


def choose(per_file: list[list[str]], ordered: bool) -> tuple[str | None, str]:
    """The metric of a column from the metrics each file reports, and the rule that chose it.

    ``per_file`` lists, for every (file, model) holding the column, its metrics (first first
    when ``ordered``). Returns ``(None, why)`` when no rule chooses.

    Examples
    --------
    >>> choose([["ppl", "acc"], ["acc", "ppl"]], ordered=False)
    ('acc', 'preference order')
    >>> choose([["bleu_max,none", "acc,none"], ["rouge1_max,none", "acc,none"]], ordered=False)[0]
    'acc,none'
    """
    found = {m for ms in per_file for m in ms}
    if len(found) == 1:
        return next(iter(found)), "the only metric"
    common = set(per_file[0]).intersection(*map(set, per_file[1:])) if per_file else set()
    preferred = sorted((m for m in common if base_name(m)[0] in PREFERRED), key=_rank)
    if preferred:
        return preferred[0], "preference order"
    if ordered:
        firsts = {ms[0] for ms in per_file if ms}
        if len(firsts) == 1 and firsts <= common:
            return next(iter(firsts)), "the source's main metric"
    if not common:
        return None, "no metric is in every file"
    return None, "no rule chooses among them"


def direction_by_name(metric: str) -> bool | None:
    """True (higher is better), False (lower is better) or None from a metric's name alone.

    Examples
    --------
    >>> direction_by_name("ppl"), direction_by_name("pct_stereotype,none"), direction_by_name("acc,none")
    (False, False, True)
    >>> direction_by_name("likelihood_difference") is None
    True
    """
    name = base_name(metric)[0]
    if _HIGHER.match(name):
        return True
    if _LOWER.search(name):
        return False
    return None
