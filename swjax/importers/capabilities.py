"""Named capability sets and the source benchmarks that produce each member.

``paper`` is the paper's 12 capability benchmarks under the public matrices' column names,
each with the lm-evaluation-harness task and metric that produce it. The task names are the
harness's; the metric is swjax's choice where the paper does not say (``acc`` for multiple
choice, ``exact_match`` with the task's default filter for generation); ``--metric`` overrides it.
``openllm-v2`` is the six benchmarks of the Open LLM Leaderboard v2 (the ``Raw`` scores: the
normalised ones clip at 0, which makes ties), ``openllm-v1`` the six of v1, from the
leaderboard's files or from lm-evaluation-harness results of its tasks. A metric without a
filter (``acc`` in harness files before 0.4) is the same as with ``none`` (``acc,none``).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import SwjaxError

__all__ = ["Member", "CAPABILITY_SETS", "resolve"]


@dataclass(frozen=True)
class Member:
    """One capability benchmark of a named set.

    Attributes
    ----------
    column : str
        Its column in the matrix (the public matrices' id for ``paper``).
    display : str
        Display name.
    sources : tuple of (format, benchmark, metric)
        Source benchmarks that produce it, with the metric taken from them.
    """

    column: str
    display: str
    sources: tuple[tuple[str, str, str], ...] = ()


def _lm(column, display, task, metric="acc,none"):
    return Member(column, display, (("lm-eval", task, metric),))


CAPABILITY_SETS: dict[str, tuple[Member, ...]] = {
    "paper": (
        _lm("logiqa", "LogiQA", "logiqa"),
        _lm("piqa", "PIQA", "piqa"),
        _lm("hellaswag", "Hellaswag", "hellaswag"),
        _lm("winogrande", "Winogrande", "winogrande"),
        _lm("superglue_copa", "COPA", "copa"),
        _lm("medqa_4options", "MedQA", "medqa_4options"),
        _lm("arc_challenge", "ARC", "arc_challenge"),
        _lm("mmlu", "MMLU", "mmlu"),
        _lm("minerva_math", "MATH", "minerva_math", "exact_match,none"),
        _lm("lambada_openai", "LAMBADA", "lambada_openai"),
        _lm("gsm8k", "GSM8K", "gsm8k", "exact_match,strict-match"),
        _lm("bbh", "BBH", "bbh", "exact_match,get-answer"),
    ),
    "openllm-v2": tuple(
        Member(f"{b}_raw", f"{name} Raw", (("openllm-v2", f"{b}_raw", f"{name} Raw"),))
        for name, b in (("IFEval", "openllm_ifeval"), ("BBH", "openllm_bbh"), ("MATH Lvl 5", "openllm_math_lvl5"),
                        ("GPQA", "openllm_gpqa"), ("MUSR", "openllm_musr"), ("MMLU-PRO", "openllm_mmlu_pro"))
    ),
    # The leaderboard's own files, or lm-evaluation-harness 0.4 results of its six tasks with
    # the metrics the leaderboard reported (acc_norm for ARC and HellaSwag, mc2 for TruthfulQA).
    "openllm-v1": tuple(
        Member(b, name, (("openllm-v1", b, ""), ("lm-eval", task, metric)))
        for b, name, task, metric in (
            ("openllm_v1_arc", "ARC", "arc_challenge", "acc_norm,none"),
            ("openllm_v1_hellaswag", "HellaSwag", "hellaswag", "acc_norm,none"),
            ("openllm_v1_mmlu", "MMLU", "mmlu", "acc,none"),
            ("openllm_v1_truthfulqa", "TruthfulQA", "truthfulqa_mc2", "acc,none"),
            ("openllm_v1_winogrande", "Winogrande", "winogrande", "acc,none"),
            ("openllm_v1_gsm8k", "GSM8K", "gsm8k", "exact_match,strict-match"),
        )
    ),
}


def resolve(spec) -> tuple[Member, ...] | None:
    """The members of ``spec``: a set name, a comma-separated list or a list of columns; None: none.

    Examples
    --------
    >>> [m.column for m in resolve("openllm-v1")][:2]
    ['openllm_v1_arc', 'openllm_v1_hellaswag']
    >>> [m.column for m in resolve("mmlu,gsm8k")]
    ['mmlu', 'gsm8k']
    """
    if spec is None:
        return None
    if isinstance(spec, str):
        if spec in CAPABILITY_SETS:
            return CAPABILITY_SETS[spec]
        spec = [s.strip() for s in spec.split(",") if s.strip()]
    names = list(spec)
    if len(names) == 1 and names[0] in CAPABILITY_SETS:
        return CAPABILITY_SETS[names[0]]
    if not names:
        raise SwjaxError("capabilities: empty list")
    return tuple(Member(n, n) for n in names)


def columns(spec) -> list[str] | None:
    """Column names of a capability spec (a set name expands to its members)."""
    members = resolve(spec)
    return None if members is None else [m.column for m in members]
