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
