"""The files of every command's ``--out``: each writer fills a folder all or nothing.

The analyses return results and never write; this module (with :mod:`swjax.outputs`, which
checks paths and makes the atomic files and folders) is where results become files. Figures
come from :mod:`swjax.figures`; matplotlib is imported only by the writers that draw.
"""

from __future__ import annotations

import numpy as np

from .outputs import atomic_dir, dumps, frame_to_json
from .provenance import environment

__all__ = ["write_bootstrap", "write_adjust", "write_plan", "write_coverage", "write_simulation"]


def write_bootstrap(results, out, argv=None) -> None:
    """table.csv, table.json, distributions.npz and manifest.json, all or nothing."""
    from . import tables

    with atomic_dir(out, "bootstrap") as tmp:
        (tmp / "table.csv").write_text(tables.bootstrap_frame(results).to_csv(), encoding="utf-8")
        (tmp / "table.json").write_text(tables.bootstrap_json(results), encoding="utf-8")
        arrays = {}
        for r in results:
            s = r.metadata["set"]
            arrays[f"{s}/distribution"] = r.distribution
            arrays[f"{s}/jackknife"] = r.jackknife
            if r.eigenvalues is not None:
                arrays[f"{s}/eigenvalues"] = r.eigenvalues
            arrays[f"{s}/benchmarks"] = np.array(r.table.index, dtype=str)
        with open(tmp / "distributions.npz", "wb") as fh:
            np.savez(fh, **arrays)
        manifest = {
            "command": " ".join(argv or []),
            "files": ["table.csv", "table.json", "distributions.npz", "manifest.json"],
            "environment": environment(),
            "runs": [
                {"metadata": r.metadata, "summary": frame_to_json(r.summary)} for r in results
            ],
        }
        (tmp / "manifest.json").write_text(dumps(manifest), encoding="utf-8")


def _write_folder(out, kind=None, *, csv=(), json=None, png=()) -> None:
    """One result folder, all or nothing: ``csv`` (file name, frame, write the index?) pairs,
    ``json`` (file name, payload) and ``png`` (file name, a function drawing the figure, dpi)."""
    from . import figures

    with atomic_dir(out, kind) as tmp:
        for name, frame, index in csv:
            frame.to_csv(tmp / name, index=index)
        if json is not None:
            (tmp / json[0]).write_text(dumps(json[1]), encoding="utf-8")
        for name, draw, dpi in png:
            (tmp / name).write_bytes(figures.to_bytes(draw(figures), dpi=dpi))


def _command(argv) -> str:
    return " ".join(argv or [])


def write_adjust(result, out, argv=None) -> None:
    """adjust.csv, slopes.csv, adjust.json and adjust.png in folder ``out``, all or nothing."""
    payload = {"command": _command(argv), "metadata": result.metadata,
               "table": frame_to_json(result.table), "slopes": frame_to_json(result.slopes)}
    _write_folder(out, csv=[("adjust.csv", result.table, True), ("slopes.csv", result.slopes, True)],
                  json=("adjust.json", payload), png=[("adjust.png", lambda f: f.plot_adjust(result), 110)])


def write_plan(result, out, argv=None) -> None:
    """plan.csv, needed.csv, plan.json and plan.png (and compare.csv) in ``out``, all or nothing."""
    gen = result.generator
    payload = {
        "command": _command(argv), "metadata": result.metadata, "needed": frame_to_json(result.needed),
        "power": frame_to_json(result.table.reset_index().set_index("benchmark")),
        "generator": {"benchmarks": list(gen.benchmarks), "loadings": gen.loadings, "truth": gen.truth,
                      "missing": gen.missing},
    }
    csv = [("plan.csv", result.table, True), ("needed.csv", result.needed, True)]
    if result.compare is not None:
        csv.append(("compare.csv", result.compare, True))
        payload["compare"] = frame_to_json(result.compare)
    _write_folder(out, csv=csv, json=("plan.json", payload), png=[("plan.png", lambda f: f.plot_power(result), 110)])


def write_coverage(result, out, argv=None) -> None:
    """coverage.json, coverage.csv and coverage.png in folder ``out``, all or nothing."""
    payload = {"command": _command(argv), "metadata": result.metadata,
               "rows": frame_to_json(result.table.set_index("design"))}
    _write_folder(out, "coverage", csv=[("coverage.csv", result.table, False)], json=("coverage.json", payload),
                  png=[("coverage.png", lambda f: f.plot_coverage(result), 120)])


def write_simulation(sim, out, seed) -> None:
    """scores.csv, info.csv, families.csv and truth.json of a simulated matrix, all or nothing."""
    ds = sim.dataset
    truth = {"design": sim.design.to_dict(), "seed": seed, "truth": sim.truth.to_dict()}
    _write_folder(out, "simulate", csv=[("scores.csv", ds.scores.rename_axis("model"), True),
                                        ("info.csv", ds.info.rename_axis("benchmark"), True),
                                        ("families.csv", ds.meta[["family"]].rename_axis("model"), True)],
                  json=("truth.json", truth))
