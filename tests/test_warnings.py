"""swjax's warnings point at the user's own line (their script or notebook cell), not into the package."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import warnings

import pytest

import swjax
from swjax.errors import warn


def test_warn_points_at_the_first_frame_outside_the_package():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warn("x", swjax.FewClustersWarning)  # called from here: this file is outside the package
    assert caught[0].filename == __file__


@pytest.mark.slow  # a process that compiles the cluster bootstrap
def test_few_families_warning_names_the_users_script(tmp_path):
    script = tmp_path / "analysis.py"
    script.write_text(textwrap.dedent("""
        import warnings, pandas as pd, swjax
        ds = swjax.load_dataset("chat")
        families = pd.Series({m: f"f{i % 4}" for i, m in enumerate(ds.models)})
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            swjax.bootstrap(ds, n=40, clusters=families)
        few = [w for w in caught if issubclass(w.category, swjax.FewClustersWarning)]
        print("WHERE", few[0].filename, few[0].lineno)
    """))
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    where = [line for line in proc.stdout.splitlines() if line.startswith("WHERE")][0].split()
    assert where[1] == str(script) and where[2] == "7"  # the line of swjax.bootstrap(...)
