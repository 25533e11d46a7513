"""The engine's default chunk sizes: host rule on the CPU, device memory on an accelerator.

A GPU cannot be assumed here, so an accelerator is a stand-in object with the two attributes the
engine reads (``platform`` and ``memory_stats()``, as ``jax.Device`` has them).
"""

import jax
import numpy as np
import pytest

from swjax import engine
from swjax.analysis import prepare

GiB = 2**30


class FakeDevice:
    def __init__(self, limit=None, in_use=0, platform="gpu", raises=False):
        self.platform, self.limit, self.in_use, self.raises = platform, limit, in_use, raises

    def memory_stats(self):
        if self.raises:
            raise RuntimeError("no memory statistics on this backend")
        if self.limit is None:
            return None
        return {"bytes_limit": self.limit, "bytes_in_use": self.in_use, "peak_bytes_in_use": self.in_use}


@pytest.fixture(scope="module")
def problems():
    return {s: prepare(s)[0] for s in ("base", "chat")}


def per_row(problem):
    q, m = problem.obs.shape
    return 8 * q * m * np.dtype(problem.caps.dtype).itemsize


def test_cpu_choice_unchanged(problems):
    # The host rule (64 MiB, 8192 rows) as it was before devices were consulted: 438 and 450
    # rows for the public float32 problems, whatever CPU device (or none) is named.
    cpu = jax.devices("cpu")[0]
    for s, expected in (("base", 438), ("chat", 450)):
        p = problems[s]
        assert engine.default_batch_size(p, 10_000) == expected
        assert engine.default_batch_size(p, 10_000, cpu) == expected
        assert engine.default_batch_size(p, 100, cpu) == 128  # fewer rows: the next power of two
    # Masks: 2 rows of 4,083 subsets, 540 of 12 (about 30 MB a row, measured about 16 MB).
    assert engine.default_batch_size(problems["chat"], 1000, cpu, n_masks=4083) == 2
    assert engine.default_batch_size(problems["chat"], 10**6, cpu, n_masks=12) == 540


def test_gpu_choice_follows_free_device_memory(problems):
    p = problems["chat"]
    small = engine.default_batch_size(p, 10**6, FakeDevice(limit=4 * GiB))
    big = engine.default_batch_size(p, 10**6, FakeDevice(limit=80 * GiB))
    busy = engine.default_batch_size(p, 10**6, FakeDevice(limit=80 * GiB, in_use=76 * GiB))
    # A chunk's estimated bytes stay within 1/16 of the free memory, and use most of it.
    for rows, free in ((small, 4 * GiB), (big, 80 * GiB), (busy, 4 * GiB)):
        if rows < 65536:
            assert rows * per_row(p) <= free / 16 < (rows + 1) * per_row(p)
        else:
            assert rows == 65536 and rows * per_row(p) <= free / 16
    assert busy == small < big
    # 4 GiB free on a GPU is already more than the host's 64 MiB rule.
    assert small > engine.default_batch_size(p, 10**6)
    assert engine.default_batch_size(p, 1000, FakeDevice(limit=80 * GiB)) == 1024  # n's power of two
    assert engine.default_batch_size(p, 10**6, FakeDevice(limit=80 * GiB, in_use=80 * GiB)) == 1  # full


def test_devices_without_memory_statistics_use_the_host_rule(problems):
    p = problems["base"]
    for dev in (FakeDevice(limit=None), FakeDevice(raises=True), FakeDevice(limit=80 * GiB, platform="cpu")):
        assert engine.default_batch_size(p, 10_000, dev) == 438
        assert engine.chunk_budget(dev) == (64 * 2**20, 8192)


def test_mask_and_dataset_chunks_follow_the_device(problems):
    p = problems["chat"]
    cpu = engine.default_batch_size(p, 1000, n_masks=4083)
    gpu = engine.default_batch_size(p, 1000, FakeDevice(limit=80 * GiB), n_masks=4083)
    assert cpu == 2 < gpu
    q, m, k, n_pat = 179, 26, 12, 3
    assert gpu * (2 * q * m + 4083 * (q * n_pat + 2 * k * k + m * (k + m))) * 4 <= 80 * GiB / 16
    stacked = jax.tree.map(lambda x: np.stack([x] * 40), p)
    host = engine.default_batch_size(stacked, 40, rows_per_dataset=1000)
    dev = engine.default_batch_size(stacked, 40, FakeDevice(limit=80 * GiB), rows_per_dataset=1000)
    assert host == 1 < dev <= 40  # a dataset of 1000 rows takes about 160 MB
    assert dev * 1000 * (per_row(p) + 2 * m * m * 4) <= 80 * GiB / 16
    assert engine.default_batch_size(stacked, 40, rows_per_dataset=10) == 40  # all fit in 64 MiB


def test_rows_per_chunk_rounds_small_runs_up_to_a_power_of_two():
    assert [engine.rows_per_chunk(n, 450) for n in (1, 2, 3, 40, 64, 65, 300, 450, 10**6)] == [
        1, 2, 4, 64, 64, 128, 450, 450, 450]
    assert engine.rows_per_chunk(5, 0) == 1


@pytest.mark.slow  # about ten bootstraps; CI runs it with -m slow
def test_compiled_programs_do_not_grow_with_n_or_a_given_batch_size(chat):
    """Runs of another n share the compiled programs: chunks of a power of two below the
    budget, of the budget above it, and of a given batch size whatever n."""
    import swjax

    for f in engine.cache._compiled_functions():
        f.clear_cache()
    swjax.bootstrap(chat, n=40)
    first = engine.compiled_count()
    assert first > 0
    for n in (41, 50, 63, 64):
        swjax.bootstrap(chat, n=n)
    assert engine.compiled_count() == first
    swjax.bootstrap(chat, n=1000)
    large = engine.compiled_count()
    for n in (2000, 3001):
        swjax.bootstrap(chat, n=n)
    assert engine.compiled_count() == large
    swjax.bootstrap(chat, n=100, batch_size=16)
    given = engine.compiled_count()
    for n in (40, 333):
        swjax.bootstrap(chat, n=n, batch_size=16)
    assert engine.compiled_count() == given
    # Crossed masks (capability subsets, leave one out) likewise.
    from swjax.sensitivity import lobo, subsets

    subsets(chat, min_size=11, n=40)
    lobo(chat, n=40)
    crossed = engine.compiled_count()
    for n in (41, 63, 64):
        subsets(chat, min_size=11, n=n)
        lobo(chat, n=n)
    assert engine.compiled_count() == crossed
