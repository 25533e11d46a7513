"""PC1 by certified power iteration: the eigensolver's pair, and the eigensolver where unsure."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from swjax import core


def _correlation(rng, m, k, common):
    x = rng.normal(size=(m, k)) + common * rng.normal(size=(m, 1))
    return np.corrcoef(x, rowvar=False)


def _leading(batch, start, kept, needed=None):
    needed = np.ones(len(batch), bool) if needed is None else needed
    f = jax.jit(jax.vmap(core._leading_pair))
    return f(jnp.asarray(batch), jnp.asarray(start), jnp.asarray(kept, batch.dtype), jnp.asarray(needed))


def _aligned(v, u):
    return v * np.sign(np.sum(v * u, axis=-1, keepdims=True))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_leading_pair_is_the_eigensolvers_to_rounding(dtype):
    rng = np.random.default_rng(0)
    mats = np.stack([_correlation(rng, 26, 12, c) for c in rng.uniform(0.3, 3, 200)]).astype(dtype)
    with jax.enable_x64(dtype == np.float64):
        lead, v = map(np.asarray, _leading(mats, np.ones((200, 12), dtype), np.full(200, 12)))
    vals, vecs = np.linalg.eigh(mats.astype(np.float64))
    eps = np.finfo(dtype).eps
    np.testing.assert_allclose(lead, vals[:, -1], rtol=64 * eps)
    np.testing.assert_allclose(_aligned(v, vecs[..., -1]), vecs[..., -1], atol=64 * eps)
    # Backward stable: the residual of the returned pair is at rounding level.
    resid = np.linalg.norm(np.einsum("bij,bj->bi", mats, v) - lead[:, None] * v, axis=1)
    assert (resid <= 16 * eps * np.linalg.norm(mats, axis=(1, 2))).all()


@pytest.mark.slow  # compile-heavy; CI runs it with -m slow
def test_no_gap_goes_to_the_eigensolver_and_leaves_the_others_unchanged():
    rng = np.random.default_rng(1)
    easy = np.stack([_correlation(rng, 30, 6, 2.0) for _ in range(7)])
    # Two equal leading eigenvalues: power iteration cannot settle, the certificate fails.
    tie = np.kron(np.eye(2), np.full((3, 3), 0.5) + 0.5 * np.eye(3))
    start = np.ones((8, 6))
    with jax.enable_x64(True):
        rho, v, accepted = jax.vmap(core._power_pair)(jnp.asarray(easy), jnp.asarray(start[:7]), jnp.full(7, 6.0))
        assert np.asarray(accepted).all()
        assert not bool(core._power_pair(jnp.asarray(tie), jnp.ones(6), jnp.asarray(6.0))[2])
        alone = np.asarray(_leading(easy, start[:7], np.full(7, 6))[1])
        lead, vecs = map(np.asarray, _leading(np.concatenate([easy, tie[None]]), start, np.full(8, 6)))
    # The easy members are bit-identical whether or not the batch needed the eigensolver (and
    # whatever the batch's size).
    np.testing.assert_array_equal(vecs[:7], alone)
    vals, evecs = np.linalg.eigh(tie)
    assert lead[7] == pytest.approx(vals[-1], rel=1e-12)
    resid = tie @ vecs[7] - lead[7] * vecs[7]
    assert np.linalg.norm(resid) < 1e-12


def test_the_eigensolver_runs_only_for_needed_members():
    # A start orthogonal to PC1: power iteration stays on the second eigenvector (residual 0),
    # and the gap check refuses it.
    a = np.array([[[2.0, 0.0], [0.0, 1.0]]] * 2)
    start = np.array([[0.0, 1.0]] * 2)
    with jax.enable_x64(True):
        lead, v = map(np.asarray, _leading(a, start, np.full(2, 2), needed=np.array([True, False])))
    assert lead.tolist() == [2.0, 1.0]  # solved; left as power iteration had it (discarded)
    np.testing.assert_array_equal(np.abs(v), [[1.0, 0.0], [0.0, 1.0]])


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    k=st.integers(2, 12),
    common=st.floats(0, 3),
    drop=st.integers(0, 3),
)
@pytest.mark.slow  # compile-heavy; CI runs it with -m slow
def test_masked_leading_pair_matches_the_eigensolver(seed, k, common, drop):
    """Any mask, any strength of PC1: accepted by power iteration or solved, the same pair."""
    rng = np.random.default_rng(seed)
    corr = _correlation(rng, 20, k, common)
    c = np.ones(k)
    c[rng.permutation(k)[: min(drop, k - 2)]] = 0
    masked = corr * c[:, None] * c[None, :]
    with jax.enable_x64(True):
        lead, v = map(np.asarray, _leading(masked[None], c[None], np.array([c.sum()])))
    vals, vecs = np.linalg.eigh(masked)
    assert lead[0] == pytest.approx(vals[-1], rel=1e-12, abs=1e-12)
    gap = vals[-1] - vals[-2]
    if gap > 1e-6:  # the eigenvector is determined (up to sign)
        np.testing.assert_allclose(_aligned(v, vecs[:, -1])[0], vecs[:, -1], atol=1e-13 / gap + 1e-13)


def test_a_pc1_orthogonal_to_its_reference_takes_the_released_rule(chat):
    """Two capability benchmarks whose correlation turns negative in a resample: PC1 is then
    exactly their difference, orthogonal to the reference (their sum), so the sign of the dot
    product is rounding noise. The released rule orients it instead, the same way in every
    program (many masks, one mask, uncompiled), and the loadings, score and correlations come
    from that one PC1: the correlations are scipy's on the resampled rows."""
    import pandas as pd
    from .reference import reference
    from swjax import engine, resample
    from swjax.analysis import prepare

    p, layout = prepare(chat)
    m = len(layout.models)
    masks = resample.subset_masks(len(layout.capabilities), 2)
    s = 60  # capabilities 8 and 9 of the paper's list
    refs = engine.run(p, np.ones((1, m)), masks=masks, fields=("loadings",))["loadings"][0]
    draws = engine.Draws(resample.bootstrap_scheme(m), 16, resample.key_from_seed(0))
    fields = ("corr", "score", "loadings", "cos_ref", "rule_flip")
    many = engine.run(p, draws=draws, masks=masks[s - 1:s + 2], ref=refs[s - 1:s + 2], fields=fields)
    one = engine.run(p, draws=draws, mask=masks[s], ref=refs[s], fields=fields)
    r = 12  # a resample in which the two benchmarks correlate negatively
    assert many["cos_ref"][r, 1] <= core.ORTHOGONAL
    w = np.asarray(resample.bootstrap_scheme(m)(jax.random.fold_in(resample.key_from_seed(0), r)))
    with jax.disable_jit():
        eager = core.statistic(p, jnp.asarray(w, jnp.float32), jnp.asarray(masks[s], jnp.float32), jnp.asarray(refs[s]))
    for f in ("corr", "loadings"):
        np.testing.assert_array_equal(many[f][r, 1], one[f][r], err_msg=f)
        np.testing.assert_allclose(one[f][r], np.asarray(getattr(eager, f)), atol=2e-6, err_msg=f)
    assert not one["rule_flip"][r]
    kept = [c for c, x in zip(layout.capabilities, masks[s]) if x]
    v = one["loadings"][r][masks[s] > 0]
    assert v[0] > 0 and np.isclose(v[0], -v[1])  # the rule: the first of two tied loadings positive
    rows = chat.scores.loc[list(layout.models)].iloc[np.repeat(np.arange(m), w.astype(int))]
    rows.index = [f"{i}_{j}" for j, i in enumerate(rows.index)]
    want = reference(rows, kept)
    got = pd.Series(one["corr"][r], index=list(layout.columns))
    common = want["correlations"].index.intersection(got.index)
    np.testing.assert_allclose(got[common].to_numpy(np.float64), want["correlations"][common].to_numpy(), atol=2e-6)
