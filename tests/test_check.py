"""check: the CI gate's exit codes, markdown summary and JUnit XML."""

from xml.etree import ElementTree as ET

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from swjax.check import exit_code, failures, junit_xml, markdown_summary
from swjax.cli import app

N = "300"


def _write(path, chat, columns):
    models = list(chat.models)
    frame = pd.DataFrame({"model": models, **{k: v(models) for k, v in columns.items()}})
    frame.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def files(chat, tmp_path_factory):
    d = tmp_path_factory.mktemp("check")
    rng = np.random.default_rng(0)
    noise = rng.normal(size=len(chat.models))
    # a column whose correlation with capabilities is close to zero
    score = __import__("swjax").analyze(chat).scores
    resid = noise - np.polyfit(score.to_numpy(), noise, 1)[0] * score.to_numpy()
    return {
        "entangled": _write(d / "bad.csv", chat, {"mt_copy": lambda m: chat.scores.loc[m, "MT_Bench"].to_numpy()}),
        "clean": _write(d / "good.csv", chat, {"wmdp_copy": lambda m: chat.scores.loc[m, "wmdp_bio"].to_numpy(),
                                               "flat": lambda m: resid}),
        "dir": d,
    }


def run(*args):
    return CliRunner().invoke(app, ["check", *args])


def test_exit_1_when_entangled_with_markdown_and_junit(files):
    junit = files["dir"] / "out" / "junit.xml"
    junit.parent.mkdir(exist_ok=True)  # an output's parent folder must exist (only the file is created)
    res = run("--scores", str(files["entangled"]), "--set", "chat", "--n", N, "--junit", str(junit))
    assert res.exit_code == 1, res.output
    assert "**FAIL**" in res.stdout
    assert "| chat | `mt_copy` |" in res.stdout and "entangled" in res.stdout
    root = ET.parse(junit).getroot()
    assert root.tag == "testsuites" and root.get("failures") == "1"
    (case,) = root.iter("testcase")
    assert case.get("name") == "mt_copy" and case.get("classname") == "swjax.chat"
    fail = case.find("failure")
    assert fail is not None and "entangled" in fail.get("message")


def test_exit_0_when_nothing_entangled(files):
    summary = files["dir"] / "summary.md"
    res = run("--scores", str(files["clean"]), "--set", "chat", "--n", N, "--summary", str(summary),
              "--junit", str(files["dir"] / "ok.xml"))
    assert res.exit_code == 0, res.output
    text = summary.read_text()
    assert "**PASS**" in text and "`wmdp_copy`" in text and "`flat`" in text
    assert "anti-correlated" in text
    root = ET.parse(files["dir"] / "ok.xml").getroot()
    assert root.get("tests") == "2" and root.get("failures") == "0"
    assert not list(root.iter("failure"))


def test_threshold_changes_the_gate(files):
    """MT-Bench's copy is entangled at 0.4, but no interval lies above 0.99."""
    res = run("--scores", str(files["entangled"]), "--set", "chat", "--n", N, "--threshold", "0.99")
    assert res.exit_code == 0, res.output


@pytest.mark.parametrize(
    "args, message",
    [
        (["--scores", "/nonexistent/x.csv"], "file not found"),
        (["--threshold", "1.5"], "threshold"),
        (["--level", "2"], "level"),
    ],
)
def test_exit_2_on_bad_input(files, args, message):
    if args[0] != "--scores":
        args = ["--scores", str(files["entangled"]), *args]
    res = run(*args, "--n", N)
    assert res.exit_code == 2
    assert message in res.stderr and res.stderr.startswith("error:")


def test_exit_2_on_clashing_column(files, chat):
    path = _write(files["dir"] / "clash.csv", chat, {"MT_Bench": lambda m: np.arange(len(m), dtype=float)})
    res = run("--scores", str(path), "--n", N)
    assert res.exit_code == 2 and "already a benchmark" in res.stderr


def test_library_functions(files, chat):
    from swjax.correlate import correlate

    res = correlate(files["entangled"], chat, n=300)
    assert failures([res]) == [("chat", "mt_copy")] and exit_code([res]) == 1
    md = markdown_summary([res])
    assert md.startswith("## swjax check") and md.count("\n| chat |") == 1
    xml = junit_xml([res])
    assert xml.startswith('<?xml version="1.0" encoding="UTF-8"?>')
    ET.fromstring(xml.split("\n", 1)[1])
