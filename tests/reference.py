"""An independent implementation of the released analysis, for tests: pandas + scipy + numpy.

Written from the paper's method and the released script, without any swjax code: z-scores with
ddof 0, scipy.stats.spearmanr matrix, numpy.linalg.eigh, the released sign rule, and
pairwise-complete Spearman correlations with scipy.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats


def reference(scores: pd.DataFrame, caps, against=None, flop=None) -> dict:
    """The analysis of ``scores`` (models x benchmarks) on the given capability columns.

    Models missing a capability are left out; constant or all-missing columns are dropped.
    """
    scores = scores.loc[scores[list(caps)].notna().all(axis=1)]
    keep = scores.nunique(dropna=True) > 1
    scores = scores.loc[:, keep]
    cap = scores[list(caps)].to_numpy(np.float64)
    z = (cap - cap.mean(axis=0)) / cap.std(axis=0, ddof=0)
    rho = stats.spearmanr(cap).statistic if len(caps) > 2 else np.array(
        [[1, stats.spearmanr(cap[:, 0], cap[:, 1]).statistic], [stats.spearmanr(cap[:, 0], cap[:, 1]).statistic, 1]]
    )
    vals, vecs = np.linalg.eigh(rho)
    pc = vecs[:, -1]
    # The released rule (largest-magnitude loading positive); where loadings tie in magnitude
    # (within 1e-5) with opposite signs, swjax's documented choice: the first of them positive.
    tied = np.flatnonzero(np.abs(pc) >= np.abs(pc).max() - 1e-5)
    pc = pc if pc[tied[0]] >= 0 else -pc
    # Row by row (not z @ pc): copies of a model must get identical scores, so their ranks tie;
    # a BLAS matrix-vector product can split them in the last bit.
    score = (z * pc).sum(axis=1)
    target = pd.Series(score, index=scores.index) if against is None else scores[against]
    corr = {}
    for col in scores.columns:
        pair = pd.concat([scores[col], target], axis=1).dropna()
        corr[col] = stats.spearmanr(pair.iloc[:, 0], pair.iloc[:, 1]).statistic if len(pair) >= 3 else np.nan
    upper = rho[np.triu_indices_from(rho, k=1)]
    out = {
        "correlations": pd.Series(corr),
        "scores": pd.Series(score, index=scores.index),
        "loadings": pd.Series(pc, index=list(caps)),
        "eigenvalues": vals[::-1],
        "variance_explained": vals[-1] / vals.sum(),
        "mean_intercorrelation": upper.mean(),
        "std_intercorrelation": upper.std(),
    }
    if flop is not None:
        f = flop.reindex(scores.index)
        known = f.notna()
        out["compute_correlation"] = stats.spearmanr(score[known.to_numpy()], f[known]).statistic
    return out


# ------------------------------------------------------------------ --missing impute


def impute_reference(x, rank, sweeps):
    """Iterative PCA imputation, written from the method: column means, then z-score, top-rank
    eigenvectors of the covariance, reconstruct, refill the missing cells; numpy float64."""
    obs = np.isfinite(x)
    x = np.where(obs, x, np.nanmean(x, axis=0))
    for _ in range(sweeps):
        mu, sd = x.mean(0), x.std(0)
        z = (x - mu) / sd
        _, vecs = np.linalg.eigh(z.T @ z / len(z))
        v = vecs[:, ::-1][:, :rank]
        x = np.where(obs, x, (z @ v @ v.T) * sd + mu)
    return x


def imputed_reference(scores: pd.DataFrame, caps, columns, weights, rank, sweeps, align=None):
    """(correlations of ``columns`` with the score, PC1) of the pipeline on the rows of
    ``scores`` repeated ``weights`` times, the missing capability cells imputed first.

    PC1 takes the released sign rule, or with ``align`` (a full-sample PC1) points along it,
    as every resample's PC1 does in a bootstrap.
    """
    s = scores.iloc[np.repeat(np.arange(len(scores)), np.asarray(weights).astype(int))]
    x = impute_reference(s[list(caps)].to_numpy(np.float64), rank, sweeps)
    z = (x - x.mean(0)) / x.std(0)
    _, vecs = np.linalg.eigh(stats.spearmanr(x).statistic)
    pc = vecs[:, -1]
    if align is None:
        pc = pc if np.abs(pc).max() == pc.max() else -pc
    else:
        pc = pc if pc @ align >= 0 else -pc
    score = (z * pc).sum(1)
    out = []
    for col in columns:
        pair = pd.DataFrame({"a": s[col].to_numpy(), "b": score}).dropna()
        out.append(stats.spearmanr(pair.a, pair.b).statistic if len(pair) >= 3 else np.nan)
    return np.array(out), pc
