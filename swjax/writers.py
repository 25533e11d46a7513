"""The files of every command's ``--out``: each writer fills a folder all or nothing.

The analyses return results and never write; this module (with :mod:`swjax.outputs`, which
checks paths and makes the atomic files and folders) is where results become files. Figures
come from :mod:`swjax.figures`; matplotlib is imported only by the writers that draw.
"""

from __future__ import annotations

import numpy as np

from .outputs import atomic_dir, dumps, frame_to_json

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
            "runs": [
                {"metadata": r.metadata, "summary": frame_to_json(r.summary)} for r in results
            ],
        }
        (tmp / "manifest.json").write_text(dumps(manifest), encoding="utf-8")


def write_adjust(result, out, argv=None) -> None:
    """adjust.csv, slopes.csv, adjust.json and adjust.png in folder ``out``, all or nothing."""
    from . import figures

    with atomic_dir(out) as tmp:
        result.table.to_csv(tmp / "adjust.csv")
        result.slopes.to_csv(tmp / "slopes.csv")
        payload = {
            "command": " ".join(argv or []),
            "metadata": result.metadata,
            "table": frame_to_json(result.table),
            "slopes": frame_to_json(result.slopes),
        }
        (tmp / "adjust.json").write_text(dumps(payload), encoding="utf-8")
        (tmp / "adjust.png").write_bytes(figures.to_bytes(figures.plot_adjust(result)))


def write_plan(result, out, argv=None) -> None:
    """plan.csv, needed.csv, plan.json and plan.png (and compare.csv) in ``out``, all or nothing."""
    from . import figures

    with atomic_dir(out) as tmp:
        result.table.to_csv(tmp / "plan.csv")
        result.needed.to_csv(tmp / "needed.csv")
        payload = {
            "command": " ".join(argv or []),
            "metadata": result.metadata,
            "needed": frame_to_json(result.needed),
            "power": frame_to_json(result.table.reset_index().set_index("benchmark")),
            "generator": {
                "benchmarks": list(result.generator.benchmarks),
                "loadings": result.generator.loadings,
                "truth": result.generator.truth,
                "missing": result.generator.missing,
            },
        }
        if result.compare is not None:
            result.compare.to_csv(tmp / "compare.csv")
            payload["compare"] = frame_to_json(result.compare)
        (tmp / "plan.json").write_text(dumps(payload), encoding="utf-8")
        (tmp / "plan.png").write_bytes(figures.to_bytes(figures.plot_power(result)))


def write_coverage(result, out, argv=None) -> None:
    """coverage.json, coverage.csv and coverage.png in folder ``out``, all or nothing."""
    from . import figures

    with atomic_dir(out, "coverage") as tmp:
        result.table.to_csv(tmp / "coverage.csv", index=False)
        payload = {
            "command": " ".join(argv or []),
            "metadata": result.metadata,
            "rows": frame_to_json(result.table.set_index("design")),
        }
        (tmp / "coverage.json").write_text(dumps(payload), encoding="utf-8")
        (tmp / "coverage.png").write_bytes(figures.to_bytes(figures.plot_coverage(result), dpi=120))


def write_simulation(sim, out, seed) -> None:
    """scores.csv, info.csv, families.csv and truth.json of a simulated matrix, all or nothing."""
    truth = {"design": sim.design.to_dict(), "seed": seed, "truth": sim.truth.to_dict()}
    with atomic_dir(out, "simulate") as tmp:
        sim.dataset.scores.rename_axis("model").to_csv(tmp / "scores.csv")
        sim.dataset.info.rename_axis("benchmark").to_csv(tmp / "info.csv")
        sim.dataset.meta[["family"]].rename_axis("model").to_csv(tmp / "families.csv")
        (tmp / "truth.json").write_text(dumps(truth), encoding="utf-8")
