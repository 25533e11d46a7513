"""A gate for CI: does any new benchmark measure capabilities? Markdown summary and JUnit XML.

No jax here: these functions read :class:`swjax.correlate.CorrelateResult` objects.
"""

from __future__ import annotations

import math
from xml.etree import ElementTree as ET

__all__ = ["FAILING", "failures", "exit_code", "markdown_summary", "junit_xml"]

#: The verdict that fails the gate: the interval lies above the threshold.
FAILING = "entangled"


def failures(results) -> list[tuple[str, str]]:
    """(set, benchmark) of every new benchmark whose verdict is "entangled"."""
    return [
        (r.set, b) for r in results for b, v in r.table["verdict"].items() if v == FAILING
    ]


def exit_code(results) -> int:
    """0 when no new benchmark is entangled with capabilities, 1 when one is."""
    return 1 if failures(results) else 0


def _num(x, digits=2) -> str:
    return "n/a" if x is None or not math.isfinite(x) else f"{x:.{digits}f}"


def _interval(row) -> str:
    return f"[{_num(row['low'])}, {_num(row['high'])}]"


_MARK = {
    "entangled": "❌ entangled",
    "anti-correlated": "⚠️ anti-correlated",
    "distinct": "✅ distinct",
    "indeterminate": "❔ indeterminate",
    "no interval": "❔ no interval",
}


def markdown_summary(results) -> str:
    """A short markdown report fit for a CI job summary (e.g. ``$GITHUB_STEP_SUMMARY``)."""
    results = list(results)
    failed = failures(results)
    md0 = results[0].result.metadata
    lines = [
        "## swjax check: capabilities correlation of new benchmarks",
        "",
        (
            f"**{'FAIL' if failed else 'PASS'}**: "
            + (
                f"{len(failed)} new benchmark(s) entangled with capabilities "
                f"(whole {md0['level']:.0%} interval above {md0['threshold']})."
                if failed
                else f"no new benchmark's {md0['level']:.0%} interval lies above {md0['threshold']}."
            )
        ),
        "",
        "| set | benchmark | estimate | interval | verdict | matched models | rank among public |",
        "|---|---|---:|---|---|---:|---:|",
    ]
    for r in results:
        for b, row in r.table.iterrows():
            rank = "" if not math.isfinite(row["rank"]) else f"{int(row['rank'])} of {row['of'] + 1}"
            lines.append(
                f"| {r.set} | `{b}` | {_num(row['estimate'])} | {_interval(row)} | "
                f"{_MARK.get(row['verdict'], row['verdict'])} | {row['n_models']} | {rank} |"
            )
    lines.append("")
    for r in results:
        md = r.result.metadata
        n_match = int((r.matches["how"] != "unmatched").sum())
        lines.append(
            f"- **{r.set}**: {n_match} of your {len(r.matches)} models matched the set's "
            f"{md['n_models']}; {md['n']:,} bootstrap resamples, {md['method']} intervals, seed {md['seed']}."
        )
        if r.unmatched:
            lines.append(f"  - not in the {r.set} set (left out): {', '.join(f'`{m}`' for m in r.unmatched)}")
        for b, row in r.table.iterrows():
            if row["neighbours"]:
                lines.append(f"  - `{b}` correlates like: {row['neighbours']}")
    lines += [
        "",
        "Verdicts: *entangled* = the interval lies above the threshold (the benchmark tracks "
        "capabilities); *distinct* = inside (-t, t); *anti-correlated* = below -t; "
        "*indeterminate* = the data cannot tell.",
        "",
    ]
    return "\n".join(lines)


def junit_xml(results) -> str:
    """JUnit XML: one testcase per new benchmark (and set), a failure when entangled."""
    results = list(results)
    cases = [(r, b, row) for r in results for b, row in r.table.iterrows()]
    n_fail = sum(row["verdict"] == FAILING for _, _, row in cases)
    seconds = sum(float(r.result.metadata.get("seconds", 0.0)) for r in results)
    suites = ET.Element("testsuites", name="swjax check", tests=str(len(cases)), failures=str(n_fail))
    suite = ET.SubElement(
        suites, "testsuite", name="swjax.capabilities_correlation", tests=str(len(cases)),
        failures=str(n_fail), errors="0", skipped="0", time=f"{seconds:.3f}",
    )
    for r, b, row in cases:
        md = r.result.metadata
        case = ET.SubElement(
            suite, "testcase", classname=f"swjax.{r.set}", name=b,
            time=f"{float(md.get('seconds', 0.0)) / max(len(r.table), 1):.3f}",
        )
        message = (
            f"{b} ({r.set}): capabilities correlation {_num(row['estimate'], 3)}, "
            f"{md['level']:.0%} interval {_interval(row)}, verdict {row['verdict']} "
            f"(threshold {md['threshold']}, {row['n_models']} models)"
        )
        if row["verdict"] == FAILING:
            fail = ET.SubElement(case, "failure", message=message, type="entangled")
            fail.text = (
                f"The whole interval lies above {md['threshold']}: the benchmark's scores track "
                f"general capabilities. Nearest public benchmarks: {row['neighbours']}."
            )
        out = ET.SubElement(case, "system-out")
        out.text = message
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"
