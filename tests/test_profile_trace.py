"""The profile summary of benchmarks/profile_trace.py, on a made-up trace and on a real CPU one."""

import gzip
import importlib.util
import json
from pathlib import Path

import jax
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("profile_trace", ROOT / "benchmarks" / "profile_trace.py")
profile_trace = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(profile_trace)


def _meta(pid, name, tid=None):
    if tid is None:
        return {"ph": "M", "name": "process_name", "pid": pid, "args": {"name": name}}
    return {"ph": "M", "name": "thread_name", "pid": pid, "tid": tid, "args": {"name": name}}


def _op(pid, tid, name, ts, dur):
    return {"ph": "X", "pid": pid, "tid": tid, "name": name, "ts": ts, "dur": dur}


def test_summary_of_a_made_up_trace(tmp_path):
    events = [
        _meta(1, "/host:CPU"), _meta(1, "python", 10), _meta(1, "tf_XLAPjRtCpuClient/1", 11),
        _meta(7, "/device:GPU:0"), _meta(7, "Stream #13", 70), _meta(7, "Stream #14", 71),
        # device: two streams; fusion_1 3 x 100 us, a gemm 250 us, bookkeeping ignored
        _op(7, 70, "fusion_1", 1000, 100), _op(7, 70, "fusion_1", 1200, 100), _op(7, 71, "fusion_1", 1400, 100),
        _op(7, 71, "sm90_gemm", 1500, 250), _op(7, 70, "end: fusion_1", 1300, 5),
        # host python: nested frames are not summed, jitted calls are
        _op(1, 10, "$bootstrap.py:1 bootstrap", 0, 3000), _op(1, 10, "PjitFunction(_resample_chunk)", 10, 400),
        _op(1, 10, "PjitFunction(_resample_chunk)", 500, 200), _op(1, 10, "PjitFunction(_evaluate_chunk)", 800, 50),
        # XLA's host threads
        _op(1, 11, "ThunkExecutor::Execute", 890, 60), _op(1, 11, "wrapped_sort", 900, 30),
        _op(1, 11, "ThreadpoolListener::Record", 950, 1),
        {"ph": "i", "pid": 1, "tid": 11, "name": "instant", "ts": 960},
    ]
    path = tmp_path / "host.trace.json.gz"
    with gzip.open(path, "wt") as fh:
        json.dump({"displayTimeUnit": "ns", "traceEvents": events}, fh)
    s = profile_trace.summarize(profile_trace.find_trace(tmp_path))
    assert s["span_ms"] == pytest.approx(3.0)
    groups = {g["group"]: g for g in s["groups"]}
    assert list(groups)[0] == "/device:GPU:0"  # devices first
    dev = groups["/device:GPU:0"]
    assert dev["busy_ms"] == pytest.approx(0.55)
    assert [(o["name"], o["count"]) for o in dev["ops"]] == [("fusion_1", 3), ("sm90_gemm", 1)]
    assert dev["ops"][0]["share"] == pytest.approx(300 / 550)
    py = groups["/host:CPU python: jitted calls"]
    assert [(o["name"], o["total_ms"]) for o in py["ops"]] == [
        ("PjitFunction(_resample_chunk)", pytest.approx(0.6)), ("PjitFunction(_evaluate_chunk)", pytest.approx(0.05))]
    xla = groups["/host:CPU XLA threads"]
    assert [o["name"] for o in xla["ops"]] == ["wrapped_sort"]
    text = profile_trace.format_summary(s)
    assert "sm90_gemm" in text and "ThreadpoolListener" not in text and "$bootstrap" not in text


def test_summary_of_a_real_cpu_trace(tmp_path):
    from swjax import engine
    from swjax.analysis import prepare

    p = prepare("chat")[0]
    m, k = p.caps.shape
    w = np.ones((1, m))
    engine.run(p, w, device="cpu")  # compiled outside the trace
    with jax.profiler.trace(str(tmp_path)):
        engine.run(p, w, device="cpu")
    s = profile_trace.summarize(profile_trace.find_trace(tmp_path), top=5)
    groups = {g["group"]: g for g in s["groups"]}
    py = next(g for name, g in groups.items() if name.endswith("python: jitted calls"))
    assert "PjitFunction(_kernel)" in [o["name"] for o in py["ops"]]
    xla = next(g for name, g in groups.items() if name.endswith("XLA threads"))
    assert 0 < xla["busy_ms"] <= 1e3 * 60 and 1 <= len(xla["ops"]) <= 5
    assert sum(o["share"] for o in xla["ops"]) <= 1 + 1e-9
    assert all(a["total_ms"] >= b["total_ms"] for a, b in zip(xla["ops"], xla["ops"][1:]))


def test_no_trace_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no \\*.trace.json.gz"):
        profile_trace.find_trace(tmp_path)
