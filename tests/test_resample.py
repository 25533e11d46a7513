"""Seeds to keys: every seed its own key, the same in float32 and float64, nothing compiled."""

import subprocess
import sys

import jax
import numpy as np
import pytest

from swjax import engine, resample
from swjax.errors import SwjaxError

SEEDS = [0, 1, 5, 2**31 - 1, 2**31, 2**32 - 1, 2**32, 2**32 + 5, 2**40 + 3, 2**63 - 1]


@pytest.mark.parametrize("x64", [False, True])
def test_a_key_is_the_seeds_two_halves_high_first(x64):
    with engine.precision(x64):
        for seed in SEEDS:
            key = resample.key_from_seed(seed)
            assert jax.random.key_impl(key) == jax.random.key_impl(jax.random.key(0))
            np.testing.assert_array_equal(jax.random.key_data(key), [seed >> 32, seed % 2**32])


def test_keys_are_jaxs_own_where_jax_keeps_the_whole_seed():
    with engine.precision(True):  # 64-bit integers: every seed whole
        for seed in SEEDS:
            np.testing.assert_array_equal(
                jax.random.key_data(resample.key_from_seed(seed)), jax.random.key_data(jax.random.key(seed))
            )
    with engine.precision(False):  # 32-bit integers: JAX keeps the low half, the same below 2**32
        for seed in SEEDS[:6]:
            np.testing.assert_array_equal(
                jax.random.key_data(resample.key_from_seed(seed)), jax.random.key_data(jax.random.key(seed))
            )


def test_seeds_a_multiple_of_2_32_apart_draw_different_resamples_in_either_precision():
    scheme = resample.bootstrap_scheme(26)
    draws = {}
    for x64 in (False, True):
        with engine.precision(x64):
            for seed in (0, 2**32, 2**33):
                draws[x64, seed] = np.asarray(scheme(jax.random.fold_in(resample.key_from_seed(seed), 7)))
    for seed in (0, 2**32, 2**33):
        np.testing.assert_array_equal(draws[False, seed], draws[True, seed])  # float32 draws = float64 draws
    assert not np.array_equal(draws[False, 0], draws[False, 2**32])
    assert not np.array_equal(draws[False, 2**32], draws[False, 2**33])


PROBE = """
import jax, numpy as np
compiled = []
jax.monitoring.register_event_duration_secs_listener(
    lambda event, duration, **kw: compiled.append(event) if "compile" in event else None)
from swjax import resample
resample.key_from_seed(123_456_789)
resample.key_from_seed(2**50 + 17)
print(len(compiled))
jax.jit(lambda x: x * 3 + 1)(np.float32(2))  # the listener does hear a compilation
print(len(compiled))
"""


def test_making_a_key_compiles_nothing():
    # In a new process: compiled programs are kept per process, so only the first key would.
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True)
    before, after = map(int, out.stdout.split())
    assert before == 0, out  # no compilation for the keys
    assert after > 0, out  # while the listener hears one


@pytest.mark.parametrize("bad", [-1, 2**63, 1.5, "7", None])
def test_a_seed_outside_0_to_2_63_is_refused(bad):
    with pytest.raises(SwjaxError, match="seed"):
        resample.key_from_seed(bad)
