"""Missing capability scores: imputation inside the bootstrap against complete-case analysis.

    PYTHONPATH=$PWD python benchmarks/bench_impute_coverage.py --datasets 200 --n 400

Part 1, coverage (the coverage study's machinery: :mod:`swjax.simulate` designs, the truth from a
population of 200,000 models, all datasets' resamples in one vmapped program). The plain design
(26 models, 8 capability benchmarks loading 0.85, safety benchmarks at rho about 0.3 / 0.65 /
0.87) with capability cells removed from each drawn dataset:

- ``mcar``: every capability cell missing with probability p;
- ``weaker``: missing more often for weaker models: probability 2p (1 - r / (m - 1)) for the
  model of capability rank r (0 = weakest by its mean capability z-score), p on average;

for p = 10 % and 30 %. Each dataset is analysed twice on the same draw: ``impute``
(``missing="impute"``: rank-2 iterative PCA imputation redone in every resample and jackknife
row) and ``complete-case`` (``missing="drop"``, the released rule: only the models with every
capability score). BCa and percentile 95 % intervals from B resamples; coverage of the
population value, bias of the point estimate, mean width. A dataset where an analysis cannot run
(fewer than 5 complete models; a capability missing for more than half the models) counts as
having no interval for it (``no_analysis``); coverage is over all R datasets, so such datasets
count as misses, and ``coverage_run`` gives it over the datasets that ran.

Part 2: the public chat matrix with 20 % of its capability cells removed at random (seeds 0-19),
imputed: point estimates against the full-data ones for the benchmarks of the table of docs/verdicts.md, and
for seed 0 the bootstrap intervals (n = 2,000) of both.

Writes ``benchmarks/results/impute/impute_coverage.{json,csv}`` and prints the tables.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import swjax  # noqa: E402
from swjax import engine, intervals, resample  # noqa: E402
from swjax.errors import SwjaxError, SwjaxWarning  # noqa: E402
from swjax.problem import build_problem, build_problem_imputed, stack_problems  # noqa: E402
from swjax.simulate import Design, draw_many, population, to_dataset  # noqa: E402

OUT = ROOT / "benchmarks" / "results" / "impute"
METHODS = ("bca", "percentile")
README_BENCHMARKS = [
    "MT_Bench", "LMSYS_Chatbot_Arena", "ethics_all", "machiavelli-utility.Σ", "sycophancy", "bbq_amb",
    "crows_pairs_english", "discrim_eval", "truthfulqa_mc1", "gpqa", "scrolls_quality", "anli", "adv_glue",
    "decodingtrust_adv_glue++", "HarmBench-HumanJailbreaks-all", "HarmBench-TAP-T-all", "HarmBench-GCG-T-all",
    "wmdp_bio", "wmdp_chem", "wmdp_cyber", "ifeval", "rules_basic", "rules_benign", "rules_redteam", "glue",
]


def knock_out(values: np.ndarray, k: int, p: float, kind: str, rng) -> np.ndarray:
    """Remove capability cells (the first k columns) of one (m, columns) draw."""
    x = values.copy()
    cap = x[:, :k]
    m = len(x)
    if kind == "mcar":
        prob = np.full(m, p)
    else:
        z = (cap - cap.mean(0)) / cap.std(0)
        r = np.argsort(np.argsort(z.mean(1)))  # 0 = weakest
        prob = 2 * p * (1 - r / (m - 1))
    cap[rng.random(cap.shape) < prob[:, None]] = np.nan
    x[:, :k] = cap
    return x


def bounds(dist, est, jack, method):
    low, high, _ = intervals.interval(dist, est, 0.95, method, jack)
    return low, high


def run_impute(design, values, B, key):
    """(R, s) estimates and per-method (R, s) bounds; datasets grouped by their number of models."""
    R, s = values.shape[0], len(design.rho)
    est = np.full((R, s), np.nan)
    out = {m: (np.full((R, s), np.nan), np.full((R, s), np.nan)) for m in METHODS}
    groups, failed = {}, 0
    for r in range(R):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", SwjaxWarning)
                prob, lay = build_problem_imputed(to_dataset(design, values[r]), list(design.capability_names),
                                                  drop_degenerate=False)
        except SwjaxError:
            failed += 1
            continue
        groups.setdefault(len(lay.models), []).append((r, prob, lay))
    for m, items in groups.items():
        idx = [r for r, _, _ in items]
        problems = stack_problems([p for _, p, _ in items])
        cols = tuple(items[0][2].columns.index(n) for n in design.safety_names)
        full = engine.run(problems, np.ones((1, m)), fields=("corr", "loadings"), columns=cols)
        e = full["corr"][:, 0].astype(np.float64)
        refs = full["loadings"][:, 0]
        jack = engine.run(problems, resample.jackknife_weights(m), ref=refs, fields=("corr",),
                          columns=cols)["corr"].astype(np.float64)
        dist = engine.run(problems, draws=engine.Draws(resample.bootstrap_scheme(m), B, key), ref=refs,
                          fields=("corr",), columns=cols)["corr"].astype(np.float64)
        for j, r in enumerate(idx):
            est[r] = e[j]
            for method in METHODS:
                lo, hi = bounds(dist[j], e[j], jack[j], method)
                out[method][0][r], out[method][1][r] = lo, hi
    return est, out, failed


def run_complete_case(design, values, B, key):
    R, s = values.shape[0], len(design.rho)
    est = np.full((R, s), np.nan)
    out = {m: (np.full((R, s), np.nan), np.full((R, s), np.nan)) for m in METHODS}
    failed = 0
    k = design.capabilities
    for r in range(R):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", SwjaxWarning)
                prob, lay = build_problem(to_dataset(design, values[r]), list(design.capability_names),
                                          drop_degenerate=False)
        except SwjaxError:
            failed += 1
            continue
        m = len(lay.models)
        cols = [lay.columns.index(n) for n in design.safety_names]
        weights = np.vstack([np.ones((1, m)), resample.jackknife_weights(m)])
        stats = engine.run(prob, weights, fields=None)
        ref = np.asarray(stats.loadings[0])
        sign = np.where(np.asarray(stats.loadings[1:]) @ ref < 0, -1.0, 1.0)
        e = np.asarray(stats.corr[0])[cols].astype(np.float64)
        jack = (np.asarray(stats.corr[1:])[:, cols] * sign[:, None]).astype(np.float64)
        dist = engine.run(prob, draws=engine.Draws(resample.bootstrap_scheme(m), B, jax_key(key, r)), ref=ref,
                          fields=("corr",))["corr"][:, cols].astype(np.float64)
        est[r] = e
        for method in METHODS:
            lo, hi = bounds(dist, e, jack, method)
            out[method][0][r], out[method][1][r] = lo, hi
    return est, out, failed


def jax_key(key, r):
    import jax

    return jax.random.fold_in(key, r)


def missing_share(values: np.ndarray, k: int) -> np.ndarray:
    """Each dataset's share of missing capability cells among the models with any capability
    score (those the analysis keeps): what :func:`swjax.validate.imputation_validated` reads."""
    cap = ~np.isfinite(values[:, :, :k])
    kept = ~cap.all(axis=2)
    return (cap & kept[:, :, None]).sum(axis=(1, 2)) / (kept.sum(axis=1) * k)


def summarise(rows, design_label, analysis, truth, est, out, failed, R, accepted=None):
    """Coverage rows over all R datasets; ``accepted`` (R,) bool: only the datasets a refusal
    rule lets through count (coverage over them; the others are ``refused``)."""
    refused = 0
    if accepted is not None:
        if not accepted.any():
            return  # the rule refuses every dataset of this design: no coverage to report
        refused = int((~accepted).sum())
        est = np.where(accepted[:, None], est, np.nan)
        out = {m: tuple(np.where(accepted[:, None], b, np.nan) for b in out[m]) for m in out}
        R = int(accepted.sum())
    for method in METHODS:
        low, high = out[method]
        for j, t in enumerate(truth):
            ok = np.isfinite(low[:, j]) & np.isfinite(high[:, j])
            cov = ok & (low[:, j] <= t) & (t <= high[:, j])
            rows.append({
                "design": design_label, "analysis": analysis, "method": method, "rho": round(float(t), 3),
                "refused": refused,
                "coverage": cov.sum() / R, "coverage_run": cov.sum() / max(ok.sum(), 1),
                "mc_se": float(np.sqrt(max(cov.sum() / R * (1 - cov.sum() / R), 1e-12) / R)),
                "bias": float(np.nanmean(est[:, j]) - t) if np.isfinite(est[:, j]).any() else np.nan,
                "width": float(np.nanmean(np.where(ok, high[:, j] - low[:, j], np.nan))) if ok.any() else np.nan,
                "no_analysis": failed, "no_interval": int((~ok).sum()),
            })


def part_chat(seeds=20, n=2000):
    chat = swjax.load_dataset("chat")
    caps = list(swjax.PAPER_CAPABILITIES)
    full = swjax.analyze(chat).correlations[README_BENCHMARKS]
    diffs = []
    for seed in range(seeds):
        rng = np.random.default_rng(seed)
        sc = chat.scores.copy()
        cap = sc[caps].to_numpy().copy()
        cap[rng.random(cap.shape) < 0.2] = np.nan
        sc[caps] = cap
        ds = swjax.Dataset(f"chat-20pct-{seed}", sc, chat.meta, chat.info)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SwjaxWarning)
            imp = swjax.analyze(ds, missing="impute").correlations[README_BENCHMARKS]
        diffs.append(imp - full)
        if seed == 0:
            ds0 = ds
    diffs = pd.DataFrame(diffs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SwjaxWarning)
        b_full = swjax.bootstrap(chat, n=n, seed=0).table.loc[README_BENCHMARKS]
        b_imp = swjax.bootstrap(ds0, n=n, seed=0, missing="impute").table.loc[README_BENCHMARKS]
    table = pd.DataFrame({
        "full": b_full["estimate"], "full_low": b_full["low"], "full_high": b_full["high"],
        "full_verdict": b_full["verdict"],
        "imputed": b_imp["estimate"], "imp_low": b_imp["low"], "imp_high": b_imp["high"],
        "imp_verdict": b_imp["verdict"],
        "mean_abs_diff_20_seeds": diffs.abs().mean(), "max_abs_diff_20_seeds": diffs.abs().max(),
    })
    return table


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--datasets", type=int, default=200)
    ap.add_argument("--n", type=int, default=400)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--skip-chat", action="store_true")
    ap.add_argument("--models", default="26", help="comma-separated numbers of models (one design each)")
    ap.add_argument("--missing", default="0.1,0.3", help="comma-separated shares of capability cells removed")
    ap.add_argument("--kinds", default="mcar,weaker", help="how cells go missing: mcar, weaker")
    ap.add_argument("--limits", default="0.1,0.15,0.2,0.25",
                    help="comma-separated shares of missing capability cells above which a refusal rule "
                    "refuses a dataset: coverage over the datasets each rule accepts")
    ap.add_argument("--no-complete-case", action="store_true", help="skip the complete-case analysis")
    ap.add_argument("--out", default=str(OUT), help="folder for the JSON and CSV files")
    args = ap.parse_args()
    out_dir = Path(args.out)
    R, B = args.datasets, args.n
    limits = [float(v) for v in args.limits.split(",") if v]
    t0 = time.perf_counter()
    key = resample.key_from_seed(args.seed)
    rows, seconds, designs = [], {}, {}
    for n_models in (int(v) for v in args.models.split(",")):
        design = Design(rho=(0.3, 0.65, 0.87), n_models=n_models)
        designs[n_models] = design.to_dict()
        truth = population(design).to_numpy()
        clean = draw_many(design, R, args.seed)
        for kind in args.kinds.split(","):
            for p in (float(v) for v in args.missing.split(",")):
                if p == 0 and kind != args.kinds.split(",")[0]:
                    continue  # no cell missing: one control per number of models
                label = ("none" if p == 0 else f"{kind} {int(round(p * 100))}%") + (
                    "" if n_models == 26 else f", m={n_models}")
                rng = np.random.default_rng([args.seed, 99, int(round(p * 100)), kind == "weaker", n_models])
                values = np.stack([knock_out(clean[r], design.capabilities, p, kind, rng) for r in range(R)])
                t = time.perf_counter()
                est, out, failed = run_impute(design, values, B, key)
                summarise(rows, label, "impute", truth, est, out, failed, R)
                share = missing_share(values, design.capabilities)
                ran = np.isfinite(est).any(axis=1)  # not refused by the rule of half (a capability)
                for limit in limits:
                    summarise(rows, label, f"impute, refused above {limit:.0%}", truth, est, out, failed, R,
                              accepted=ran & (share <= limit))
                seconds[f"{label} impute"] = time.perf_counter() - t
                msg = f"{label}: {seconds[f'{label} impute']:.0f} s impute"
                if not args.no_complete_case:
                    t = time.perf_counter()
                    est, out, failed = run_complete_case(design, values, B, key)
                    seconds[f"{label} complete-case"] = time.perf_counter() - t
                    summarise(rows, label, "complete-case", truth, est, out, failed, R)
                    msg += f", {seconds[f'{label} complete-case']:.0f} s complete-case"
                print(msg, flush=True)
    table = pd.DataFrame(rows)
    out_dir.mkdir(parents=True, exist_ok=True)
    table.to_csv(out_dir / "impute_coverage.csv", index=False)
    pd.set_option("display.width", 200)
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    record = {"datasets": R, "n": B, "seed": args.seed, "designs": designs,
              "coverage": table.to_dict("records"), "seconds": seconds}
    if not args.skip_chat:
        chat = part_chat()
        print(chat.to_string(float_format=lambda v: f"{v:.3f}"))
        record["chat_20pct"] = chat.reset_index().rename(columns={"index": "benchmark"}).to_dict("records")
        chat.to_csv(out_dir / "chat_20pct.csv")
    record["seconds_total"] = time.perf_counter() - t0
    (out_dir / "impute_coverage.json").write_text(json.dumps(record, indent=2, default=float) + "\n")
    print(f"wrote {out_dir}/")


if __name__ == "__main__":
    main()
