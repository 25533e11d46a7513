"""The faster paths give the numbers of the path before them, bit for bit.

``tests/fixtures/speed/before.npz`` was written by ``tests/fixtures/speed/make_before.py`` with
the commit before the speed work (67d5585): bootstrap distributions, jackknives and every
interval column (float32 and float64, models and families), every field of the kernel for
explicit rows, masks and draws on both rank paths, subsets, leave-one-out and a small coverage
study. Each case runs again here with the current code and must match every array exactly
(on the CPU kind the fixture was made on; see ``_check`` for other CPUs).
"""

import importlib.util
import warnings
from pathlib import Path

import numpy as np
import pytest

_PATH = Path(__file__).parent / "fixtures" / "speed" / "make_before.py"
_spec = importlib.util.spec_from_file_location("make_before", _PATH)
make_before = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(make_before)


@pytest.fixture(scope="module")
def before():
    return np.load(make_before.FIXTURE)


#: The cases of the default suite; the others (compile-heavy) run in the slow pass.
QUICK = ("bootstrap_models", "bootstrap_x64")


@pytest.mark.parametrize("case", QUICK)
def test_same_bits_as_before(case, before):
    _check(case, before)


@pytest.mark.parametrize("case", sorted(set(make_before.CASES) - set(QUICK)))
def test_same_bits_as_before_everywhere_else(case, before):
    _check(case, before)


def _check(case, before):
    """Every array exactly; on a CPU with other vector instructions than the fixture's, the
    fields that come from float sums in XLA's vectorized code (``FLOAT_FIELDS``) to a few
    units in the last place, and everything computed from ranks still exactly."""
    same_cpu = str(before["cpu"]) == make_before.cpu_signature()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = make_before.CASES[case]()
    assert got, case
    for name, value in got.items():
        want = before[name]
        assert value.shape == want.shape, name
        assert np.asarray(value).dtype == want.dtype or name.endswith("estimates"), name
        value = np.asarray(value, want.dtype)
        if same_cpu or not any(f in name for f in make_before.FLOAT_FIELDS) or want.dtype == bool:
            np.testing.assert_array_equal(value, want, err_msg=name)
        else:
            np.testing.assert_allclose(value, want, rtol=16 * np.finfo(want.dtype).eps, atol=0, err_msg=name)
