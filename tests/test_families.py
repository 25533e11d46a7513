"""Family map, cluster resampling, design effect and leave one family out."""


import jax
import numpy as np
import pytest

import swjax
from swjax import families as F
from swjax import resample


def test_shipped_map_covers_both_public_sets(base, chat):
    fam = F.load_family_map()
    for ds in (base, chat):
        assert set(ds.models) <= set(fam.index)
    assert fam["Qwen1.5-72B-Chat"] == fam["Qwen1.5-0.5B"] == "Qwen1.5"
    assert fam["Mixtral-8x7B-v0.1"] == "Mistral"


def test_cluster_weights_sum_to_drawn_family_sizes(chat):
    fam = F.family_labels(chat, families="public")
    codes, names = F.cluster_codes(chat.models, fam)
    sizes = np.bincount(codes)
    scheme = resample.cluster_scheme(codes)
    key = jax.random.key(0)
    for r in range(20):
        w = np.asarray(scheme(jax.random.fold_in(key, r)))
        per_family = np.array([w[np.asarray(codes) == g] for g in range(len(names))], dtype=object)
        times = np.array([v[0] for v in per_family])  # every model of a family has the family's count
        assert all((v == v[0]).all() for v in per_family)
        assert times.sum() == len(names)
        assert w.sum() == (times * sizes).sum()


@pytest.mark.slow
def test_family_bootstrap_percentile_warning_and_design_effect(chat):
    fam = F.family_labels(chat, families="public")
    with pytest.warns(swjax.FewClustersWarning, match="9 model families"):
        res = F.family_bootstrap(chat, fam, n=60, seed=0)
    assert res.clustered.metadata["scheme"] == "clusters"
    assert (res.clustered.table["interval"] == "cluster-t").all()
    # against two separate runs of swjax.bootstrap and a plain variance of their finite values
    import statistics

    with pytest.warns(swjax.FewClustersWarning):
        clustered = swjax.bootstrap(chat, clusters=fam, n=60, seed=0)
    models = swjax.bootstrap(chat, n=60, seed=0)
    for bench in ("MT_Bench", "truthfulqa_mc1", "wmdp_bio"):
        def var(r):
            col = r.distribution[:, list(r.table.index).index(bench)]
            return statistics.variance([float(x) for x in col if np.isfinite(x)])

        d = res.design_effect.loc[bench]
        assert d["var_cluster"] == pytest.approx(var(clustered), rel=1e-9)
        assert d["var_model"] == pytest.approx(var(models), rel=1e-9)
        assert d["design_effect"] == pytest.approx(var(clustered) / var(models), rel=1e-9)


def test_leave_one_family_out_equals_analyze_without_it(chat):
    fam = F.family_labels(chat, families="public")
    lofo = F.leave_one_family_out(chat, fam)
    keep = [m for m in chat.models if fam[m] != "Qwen1.5"]
    w = np.array([1 if m in keep else 0 for m in chat.models])
    a = swjax.analyze(chat, weights=w)
    np.testing.assert_allclose(lofo["-Qwen1.5"], a.correlations.reindex(lofo.index), atol=2e-6)


def test_cluster_by_column_and_errors(chat):
    lab = F.family_labels(chat, cluster_by="type")
    assert set(lab) == {"chat"}
    with pytest.raises(swjax.SwjaxError, match="cluster-by"):
        F.family_labels(chat, cluster_by="nope")
    with pytest.raises(swjax.SwjaxError, match="no family"):
        F.cluster_codes(["unknown-model"], F.load_family_map())
