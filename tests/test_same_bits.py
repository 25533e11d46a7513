"""The faster paths give the numbers of the path before them, bit for bit.

``tests/fixtures/speed/before.npz`` was written by ``tests/fixtures/speed/make_before.py`` with
the commit before the speed work (67d5585): bootstrap distributions, jackknives and every
interval column (float32 and float64, models and families), every field of the kernel for
explicit rows, masks and draws on both rank paths, subsets, leave-one-out and a small coverage
study. Each case runs again here with the current code and must match every array exactly.
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
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = make_before.CASES[case]()
    assert got, case
    for name, value in got.items():
        want = before[name]
        assert value.shape == want.shape, name
        np.testing.assert_array_equal(np.asarray(value, want.dtype), want, err_msg=name)
        assert np.asarray(value).dtype == want.dtype or name.endswith("estimates"), name
