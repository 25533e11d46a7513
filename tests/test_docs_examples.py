"""Every shell and Python example of README.md and docs/*.md runs, or says why it cannot.

A fenced block in ``bash``, ``sh``, ``shell``, ``console`` or ``python`` is code. Right before its
fence (blank lines allowed) it may carry one marker:

* ``<!-- not run: REASON -->``: not run, for the reason given (network, a GPU, files that are not
  in the repository, minutes of runtime, a synopsis of options);
* ``<!-- slow -->``: run in the slow pass (``test_slow_blocks`` is in ``conftest.SLOW``), for
  blocks that take more than about 3 s;
* no marker: run in the default suite (``test_fast_blocks``).

Shell blocks run with bash under ``set -e -o pipefail`` (``console`` blocks: their ``$ `` lines),
Python blocks with this interpreter, each in a fresh temporary folder that holds the checkout's
``data/`` and ``tests/fixtures/`` (so the examples' paths work as written from the checkout's root)
and an empty ``docs/``; ``SWJAX_DATA_DIR`` is passed on, ``GITHUB_STEP_SUMMARY`` is not. Output
shown as ``text`` (or any other language) is not code; a fence without a language is an error, so
that no command hides in an unlabelled block.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CODE = {"bash": "bash", "sh": "bash", "shell": "bash", "console": "console", "python": "python", "py": "python"}
FENCE = re.compile(r"^(`{3,}|~{3,})\s*([\w+-]*)\s*$")
MARKER = re.compile(r"^<!--\s*(.*?)\s*-->$")
FAST_TIMEOUT_S = 120
SLOW_TIMEOUT_S = 900


@dataclass(frozen=True)
class Block:
    path: str  # relative to the checkout
    line: int  # of the opening fence, 1-based
    lang: str
    code: str
    marker: str | None  # "slow", "not run: ...", another comment's text, or None

    @property
    def id(self) -> str:
        return f"{self.path}:{self.line}"

    @property
    def kind(self) -> str:
        return CODE.get(self.lang.lower(), "")

    @property
    def mode(self) -> str:
        """"fast", "slow" or "skip" for code; "text" for anything else. Raises on a bad marker."""
        if not self.kind:
            return "text"
        if self.marker is None:
            return "fast"
        if self.marker == "slow":
            return "slow"
        m = re.fullmatch(r"not run:\s*(.*)", self.marker)
        if m and m.group(1).strip():
            return "skip"
        raise ValueError(f"{self.id}: marker <!-- {self.marker} --> is neither 'slow' nor 'not run: REASON'")


def _closes(line: str, fence: str) -> bool:
    """A closing fence: only the opening fence's character, at least as many, nothing else."""
    s = line.rstrip()
    return len(s) >= len(fence) and set(s) == {fence[0]}


def blocks_of(text: str, path: str) -> list[Block]:
    """The fenced blocks of one markdown text, each with the marker right before its fence."""
    lines = text.split("\n")
    found, i = [], 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        fence, lang, start = m.group(1), m.group(2), i
        j = i + 1
        while j < len(lines) and not _closes(lines[j], fence):
            j += 1
        if j == len(lines):
            raise ValueError(f"{path}:{start + 1}: fence never closed")
        if not lang:
            raise ValueError(f"{path}:{start + 1}: a fence without a language (write ```text for output)")
        k = start - 1
        while k >= 0 and not lines[k].strip():
            k -= 1
        mk = MARKER.match(lines[k].strip()) if k >= 0 else None
        found.append(Block(path, start + 1, lang, "\n".join(lines[start + 1:j]) + "\n", mk.group(1) if mk else None))
        i = j + 1
    return found


def doc_files() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def all_blocks() -> list[Block]:
    out = []
    for f in doc_files():
        out += blocks_of(f.read_text(encoding="utf-8"), f.relative_to(ROOT).as_posix())
    return out


def _of_mode(mode: str) -> list[Block]:
    return [b for b in all_blocks() if b.kind and b.mode == mode]


def script(block: Block) -> str:
    if block.kind == "console":
        cmds = [line[2:] for line in block.code.splitlines() if line.startswith("$ ")]
        return "\n".join(cmds) + "\n"
    return block.code


def run_block(block: Block, tmp_path: Path, timeout: float) -> None:
    work = tmp_path / "work"
    (work / "tests").mkdir(parents=True)
    (work / "docs").mkdir()
    (work / "data").symlink_to(ROOT / "data", target_is_directory=True)
    (work / "tests" / "fixtures").symlink_to(ROOT / "tests" / "fixtures", target_is_directory=True)
    env = dict(os.environ)
    env.pop("GITHUB_STEP_SUMMARY", None)
    env["MPLBACKEND"] = "Agg"
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    if block.kind == "python":
        cmd = [sys.executable, "-c", block.code]
    else:
        cmd = ["bash", "-c", "set -e -o pipefail\n" + script(block)]
    try:
        done = subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{block.id}: still running after {timeout} s; mark it <!-- slow --> or <!-- not run: ... -->")
    if done.returncode != 0:
        pytest.fail(f"{block.id}: exit {done.returncode}\n--- stdout\n{done.stdout[-3000:]}\n--- stderr\n{done.stderr[-3000:]}")


# ------------------------------------------------------------------ the extractor itself

SAMPLE = """# t

<!-- not run: needs a GPU -->
```bash
swjax bootstrap --device gpu
```

<!-- slow -->

```python
print(1)
```

```text
$ output, not code
```

```console
$ echo hi
hi
```

```csv
a,b
```
"""


def test_the_extractor_reads_fences_and_markers():
    got = [(b.line, b.lang, b.mode) for b in blocks_of(SAMPLE, "x.md")]
    assert got == [(4, "bash", "skip"), (10, "python", "slow"), (14, "text", "text"), (18, "console", "fast"), (23, "csv", "text")]
    console = blocks_of(SAMPLE, "x.md")[3]
    assert script(console) == "echo hi\n"


def test_a_bad_marker_or_a_bare_fence_is_an_error():
    with pytest.raises(ValueError, match="neither 'slow' nor 'not run"):
        [b.mode for b in blocks_of("<!-- not run: -->\n```bash\nls\n```\n", "x.md")]
    with pytest.raises(ValueError, match="neither 'slow' nor 'not run"):
        [b.mode for b in blocks_of("<!-- skip this -->\n```python\npass\n```\n", "x.md")]
    with pytest.raises(ValueError, match="without a language"):
        blocks_of("```\nswjax bootstrap\n```\n", "x.md")
    with pytest.raises(ValueError, match="never closed"):
        blocks_of("```bash\nls\n", "x.md")


def test_a_failing_block_fails(tmp_path):
    (bad,) = blocks_of("```bash\nfalse\necho not reached\n```\n", "x.md")
    with pytest.raises(pytest.fail.Exception, match="x.md:1: exit 1"):
        run_block(bad, tmp_path, timeout=30)


# ------------------------------------------------------------------ the documentation

def test_every_code_block_runs_or_says_why_not():
    blocks = all_blocks()  # raises on a bare fence or an unclosed one
    modes = {b.id: b.mode for b in blocks}  # raises on a bad marker
    code = [b for b in blocks if b.kind]
    assert len(code) >= 20 and len(doc_files()) >= 15
    # the documentation's own promises: README's quick start is exactly these two lines, and the
    # examples for benchmark authors are run (fast or slow), not skipped
    quick = next(b for b in blocks if b.path == "README.md" and "pip install ." in b.code)
    assert quick.code == 'pip install . && swjax bootstrap --set both --n 10000\npip install -e ".[test]" && python -m pytest\n'
    author = [b for b in code if b.path == "docs/your-benchmark.md"]
    assert author and all(modes[b.id] in ("fast", "slow") for b in author)
    assert {"fast", "slow", "skip"} <= set(modes.values())


@pytest.mark.parametrize("block", _of_mode("fast"), ids=lambda b: b.id)
def test_fast_blocks(block, tmp_path):
    run_block(block, tmp_path, FAST_TIMEOUT_S)


@pytest.mark.parametrize("block", _of_mode("slow"), ids=lambda b: b.id)
def test_slow_blocks(block, tmp_path):
    run_block(block, tmp_path, SLOW_TIMEOUT_S)


def test_readme_is_a_front_page_whose_links_resolve():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 300
    targets = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text)
    local = [t for t in targets if not re.match(r"[a-z]+://", t)]
    assert len(local) >= 15  # the pages of docs/
    assert [t for t in local if not (ROOT / t).exists()] == []
    # every page of the site is reachable from the front page
    assert {Path(t).name for t in local if t.startswith("docs/")} >= {p.name for p in (ROOT / "docs").glob("*.md")}


def test_the_api_reference_documents_every_public_name():
    """docs/api.md has a mkdocstrings entry for each name of ``swjax.__all__`` (the site's API
    reference would silently lack a new function otherwise)."""
    import re

    import swjax

    api = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^::: swjax\.(?:[\w.]+\.)?(\w+)$", api, re.M))
    assert sorted(set(swjax.__all__) - documented) == []
