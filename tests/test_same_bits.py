"""The numbers of the release before the speed work, to float tolerance.

``tests/fixtures/speed/before.npz`` was written by ``tests/fixtures/speed/make_before.py`` with
the commit before the speed work (67d5585): bootstrap distributions, jackknives and every
interval column (float32 and float64, models and families), every field of the kernel for
explicit rows, masks and draws on both rank paths, subsets, leave-one-out and a small coverage
study. Each case runs again here with the current code. Formulations that change the order of
float sums are allowed (the resamples are the same draws), so float arrays must agree to
:data:`TOL` of their dtype, and integer and boolean arrays (counts, flags) exactly; NaN where
the fixture has NaN. Determinism for a given version (batch sizes, devices) is tested exactly
elsewhere (``tests/test_bootstrap.py``, ``tests/test_ranks.py``, ``tests/test_sharding.py``).
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
QUICK = ("bootstrap_x64",)


@pytest.mark.parametrize("case", QUICK)
def test_numbers_as_before(case, before):
    _check(case, before)


@pytest.mark.parametrize("case", sorted(set(make_before.CASES) - set(QUICK)))
def test_numbers_as_before_everywhere_else(case, before):
    _check(case, before)


#: Relative and absolute tolerance of float arrays, by the precision the case computed in (the
#: house rule for every number).
TOL = {np.dtype(np.float32): 1e-5, np.dtype(np.float64): 1e-9}

#: The cases that compute in float64; every other case runs in float32, and its pandas columns,
#: though stored as float64, hold float32 numbers (a sum of float32 products can round one ulp
#: differently on a CPU with other vector instructions), so they are held to float32's tolerance.
X64_CASES = ("bootstrap_x64",)


def _check(case, before):
    """Float arrays to :data:`TOL`, everything else exactly."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = make_before.CASES[case]()
    assert got, case
    for name, value in got.items():
        want = before[name]
        assert value.shape == want.shape, name
        assert np.asarray(value).dtype == want.dtype or name.endswith("estimates"), name
        value = np.asarray(value, want.dtype)
        if want.dtype in TOL:
            tol = TOL[want.dtype] if case in X64_CASES else TOL[np.dtype(np.float32)]
            np.testing.assert_allclose(value, want, rtol=tol, atol=tol, err_msg=name)
        else:
            np.testing.assert_array_equal(value, want, err_msg=name)
