"""Resampling schemes as generators of (model weights, capability mask).

Random schemes are functions ``key -> weights (m,)`` run inside the compiled engine, one key
per resample from ``fold_in(seed_key, resample_index)``, so resample ``r`` is the same whatever
the batch size. Enumerated schemes (jackknife, leave one benchmark out, capability subsets) are
plain numpy arrays.
"""

from __future__ import annotations

import functools
import itertools
import math
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from . import validate
from .errors import SwjaxError

__all__ = [
    "key_from_seed",
    "bootstrap_scheme",
    "cluster_scheme",
    "jackknife_weights",
    "cluster_jackknife_weights",
    "lobo_masks",
    "subset_masks",
    "n_subsets",
]

WeightScheme = Callable[[jax.Array], jax.Array]


def key_from_seed(seed) -> jax.Array:
    """The one place a user's integer seed becomes a JAX key.

    The threefry key of a seed in [0, 2**63) is the seed's two 32-bit halves, high first: what
    ``jax.random.key(seed)`` gives with 64-bit integers on. It is built here from those halves
    on the host, which compiles nothing: ``jax.random.key`` compiles two small programs in
    every new process (about 0.08 s), and with 64-bit integers off it keeps only the low half,
    so that seeds 0 and 2**32 drew the same resamples in float32 and different ones in float64.
    Under another default PRNG (``jax_default_prng_impl``) the key is that PRNG's own.
    """
    seed = validate.seed(seed)
    if jax.config.jax_default_prng_impl != "threefry2x32":
        return jax.random.key(seed)
    halves = np.array([seed >> 32, seed & 0xFFFFFFFF], np.uint32)
    return jax.random.wrap_key_data(halves, impl="threefry2x32")


@functools.lru_cache(maxsize=64)
def bootstrap_scheme(m: int) -> WeightScheme:
    """Ordinary bootstrap over models: multinomial counts of ``m`` draws with replacement."""

    def weights(key):
        draws = jax.random.randint(key, (m,), 0, m, dtype=jnp.int32)
        return jnp.bincount(draws, length=m)

    weights.cache_key = ("models", int(m))  # names the scheme in the engine's program cache
    return weights


@functools.lru_cache(maxsize=64)
def cluster_scheme(cluster_of_model: tuple[int, ...]) -> WeightScheme:
    """Cluster bootstrap: draw whole clusters (model families) with replacement.

    ``cluster_of_model`` (a tuple of m ints, hashable so the compiled function is reused) gives each model's cluster as an integer in ``[0, G)``; a model's
    weight is the number of times its cluster was drawn, so the weights sum to the total size
    of the drawn clusters.
    """
    codes = np.asarray(cluster_of_model, np.int32)
    n_clusters = int(codes.max()) + 1

    def weights(key):
        draws = jax.random.randint(key, (n_clusters,), 0, n_clusters, dtype=jnp.int32)
        return jnp.bincount(draws, length=n_clusters)[codes]

    weights.cache_key = ("clusters", tuple(int(c) for c in cluster_of_model))
    return weights


def jackknife_weights(m: int) -> np.ndarray:
    """(m, m) weights leaving out one model per row."""
    return 1 - np.eye(m, dtype=np.int32)


def cluster_jackknife_weights(codes) -> np.ndarray:
    """(clusters, models) weights leaving out one whole cluster (family) per row, clusters in
    sorted order of their codes: the jackknife over the units the cluster bootstrap resamples."""
    codes = np.asarray(codes)
    return (codes[None, :] != np.unique(codes)[:, None]).astype(np.int32)


def lobo_masks(k: int) -> np.ndarray:
    """(k, k) capability masks leaving out one capability benchmark per row."""
    return 1 - np.eye(k, dtype=np.int32)


def n_subsets(k: int, min_size: int) -> int:
    return sum(math.comb(k, s) for s in range(min_size, k + 1))


def subset_masks(k: int, min_size: int = 2) -> np.ndarray:
    """Every capability mask with at least ``min_size`` ones, by size then lexicographically.

    >>> subset_masks(3, 2)
    array([[1, 1, 0],
           [1, 0, 1],
           [0, 1, 1],
           [1, 1, 1]], dtype=int32)
    """
    if not 2 <= min_size <= k:
        raise SwjaxError(f"min-size: expected 2 <= min-size <= {k}, got {min_size}")
    rows = []
    for size in range(min_size, k + 1):
        for chosen in itertools.combinations(range(k), size):
            row = np.zeros(k, np.int32)
            row[list(chosen)] = 1
            rows.append(row)
    return np.stack(rows)
