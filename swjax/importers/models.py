"""Model names: from what evaluation tools write to one id per model.

``normalise`` turns a source's name into a key and a readable name:

- a local path keeps its last component (``/ckpt/Llama-2-7b-hf`` -> ``Llama-2-7b-hf``); a hub cache
  path ``models--org--name/snapshots/<sha>`` gives ``org/name``;
- lm-evaluation-harness's sanitized ``org__name`` is ``org/name``;
- a revision (``name@rev``) is dropped; a ``/`` inside brackets (``GPT-4 Turbo (04/09)``) is not
  an organisation's;
- the organisation (``meta-llama/``) is split off: the public matrices use names without it;
- dtype and quantisation suffixes are dropped (``-GPTQ``, ``-AWQ``, ``-GGUF``, ``-bf16``,
  ``-fp16``, ``-int4``, ``-4bit``, ``.Q4_K_M``, ...);
- the key is the rest as lower-cased tokens (:func:`match_key`): separators (space, ``-``, ``_``,
  ``.``, ``:``, ``/``, brackets) do not count and a date is ``yyyymmdd`` however it is written, so
  ``GPT-4o (2024-05-13)``, ``gpt-4o-2024-05-13``, ``OpenAI/gpt-4o-2024-05-13`` and
  ``GPT-4o-20240513`` meet, and so do ``Claude 3.5 Sonnet (20240620)`` and
  ``claude-3-5-sonnet-20240620``. Every token is kept, in order: names that differ in a size, a
  version, a date or any other word (``-instruct``, ``+``) never meet, and ``3.5`` (``3``, ``5``)
  is not ``35``. Names the rule cannot join go in a ``--models`` file.

Every merge this causes is listed in the merge report; two different organisations behind one
key are an error (name them apart with a ``--models`` file: columns ``from,to``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import SwjaxError

_SUFFIX = re.compile(
    r"[-_.](gptq|awq|gguf|ggml|exl2|hqq|bnb|fp16|bf16|bfloat16|float16|half|fp32|float32|fp8|int8|int4|"
    r"4bit|8bit|4-bit|8-bit|w4a16|w8a8|q[2-8](_k)?(_[a-z0-9]+)*)$",
    re.IGNORECASE,
)
_CACHE = re.compile(r"models--([^/]+)--([^/]+)")
_DATE = re.compile(r"(?<![0-9])(20[0-9]{2})[-_/. ]?(0[1-9]|1[0-2])[-_/. ]?(0[1-9]|[12][0-9]|3[01])(?![0-9])")
_BRACKETED = re.compile(r"\([^()]*\)")
_SEPARATORS = re.compile(r"[\s\-_.:/()\[\],]+")


def match_key(name: str) -> str:
    """The tokens of a model name that decide whether two names are one model.

    Examples
    --------
    >>> match_key("GPT-4o (2024-05-13)") == match_key("gpt-4o-20240513") == "gpt-4o-20240513"
    True
    >>> match_key("Claude 3.5 Sonnet (20240620)")
    'claude-3-5-sonnet-20240620'
    >>> match_key("c4ai-command-r+") == match_key("c4ai-command-r")
    False
    """
    text = _DATE.sub(lambda m: m.group(1) + m.group(2) + m.group(3), name.lower())
    return "-".join(t for t in _SEPARATORS.split(text) if t)


@dataclass(frozen=True)
class Name:
    """A normalised model name: ``key`` groups, ``name`` is shown, ``org`` and ``dropped`` explain."""

    key: str
    name: str
    org: str
    dropped: tuple[str, ...]


def normalise(raw: str) -> Name:
    """The key, readable name, organisation and dropped suffixes of one source name.

    Examples
    --------
    >>> normalise("meta-llama/Llama-2-7b-chat-hf").name
    'Llama-2-7b-chat-hf'
    >>> normalise("TheBloke/Llama-2-7B-Chat-GPTQ")
    Name(key='llama-2-7b-chat', name='Llama-2-7B-Chat', org='TheBloke', dropped=('GPTQ',))
    """
    text = raw.strip().replace("\\", "/")
    cache = _CACHE.search(text)
    if cache:
        text = f"{cache.group(1)}/{cache.group(2)}"
    elif text.startswith(("/", "./", "../", "~")):
        text = Path(text.rstrip("/")).name
    if "/" not in text and "__" in text:
        text = text.replace("__", "/", 1)
    text = text.split("@", 1)[0]
    # a "/" inside brackets ("GPT-4 Turbo (04/09)") is not an organisation's: hidden from the split
    text = _BRACKETED.sub(lambda m: m.group(0).replace("/", "\0"), text)
    org, _, name = (part.replace("\0", "/") for part in text.rpartition("/"))
    dropped = []
    while True:
        match = _SUFFIX.search(name)
        if not match or match.start() == 0:
            break
        dropped.insert(0, match.group(1))
        name = name[: match.start()]
    name = name.strip()
    if not name:
        raise SwjaxError(f"model name {raw!r}: nothing left after normalising it")
    key = match_key(name)
    if not key:
        raise SwjaxError(f"model name {raw!r}: nothing left after normalising it")
    return Name(key=key, name=name, org=org, dropped=tuple(dropped))


def read_mapping(path) -> dict[str, str]:
    """A ``--models`` file: CSV with columns ``from`` (a source name) and ``to`` (the model id)."""
    import pandas as pd

    path = Path(path)
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except FileNotFoundError:
        raise SwjaxError(f"{path}: file not found") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise SwjaxError(f"{path}: cannot parse the CSV ({err})") from None
    frame.columns = [c.strip() for c in frame.columns]
    for col in ("from", "to"):
        if col not in frame.columns:
            raise SwjaxError(f"{path}: no column {col!r} (a models file maps from,to)")
    out = {}
    for i, (src, dst) in enumerate(zip(frame["from"], frame["to"])):
        src, dst = src.strip(), dst.strip()
        if not src or not dst:
            raise SwjaxError(f"{path}: row {i + 2}: empty field 'from' or 'to'")
        if src in out and out[src] != dst:
            raise SwjaxError(f"{path}: {src!r} is mapped twice ({out[src]!r}, {dst!r})")
        out[src] = dst
    return out


def to_ids(names, ids) -> dict[str, str]:
    """Source names (``meta-llama/Llama-2-7b-hf``) -> the ids of ``ids`` they normalise to.

    The rule of :func:`normalise`, as ``swjax import`` applies it: a name maps to the one id with
    the same key; names with no such id, or with several, are left out.
    """
    by_key: dict[str, list[str]] = {}
    for i in ids:
        try:
            by_key.setdefault(normalise(str(i)).key, []).append(str(i))
        except SwjaxError:
            continue
    out = {}
    for name in names:
        try:
            hits = by_key.get(normalise(str(name)).key, [])
        except SwjaxError:
            continue
        if len(hits) == 1:
            out[str(name)] = hits[0]
    return out
