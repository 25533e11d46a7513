"""The options that several commands share, declared once as ``Annotated`` types (the typer
option and, for paths, what the command does with the path: :class:`PathRole`), and the
choices they take.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from ..validate import IMPUTE_VALIDATED_SHARE


class ModelSet(str, Enum):
    base = "base"
    chat = "chat"
    both = "both"


class Format(str, Enum):
    table = "table"
    parquet = "parquet"
    csv = "csv"
    json = "json"


class Device(str, Enum):
    auto = "auto"
    cpu = "cpu"
    gpu = "gpu"


class Method(str, Enum):
    bca = "bca"
    percentile = "percentile"
    basic = "basic"
    jackknife_t = "jackknife-t"
    cluster_t = "cluster-t"


# ------------------------------------------------------------------------- path options


@dataclass(frozen=True)
class PathRole:
    """What a command does with a path option, given in its ``Annotated`` type beside the typer
    option: :func:`handle_errors` checks every declared path before the command runs (outputs
    writable, folders replaceable, no output over an input), and the tests find every output
    option of the CLI through these marks. ``role``: ``reads``, ``file`` (written as a file),
    ``folder`` (replaced as a whole; ``kind`` a key of ``outputs.FOLDERS``) or ``into`` (files
    written into it)."""

    role: str
    kind: str | None = None


READS = PathRole("reads")
WRITES_FILE = PathRole("file")
WRITES_INTO = PathRole("into")


def writes_folder(kind: str) -> PathRole:
    return PathRole("folder", kind)


# ------------------------------------------------------------------------- shared options

SetOpt = Annotated[ModelSet, typer.Option("--set", help="Model set of the public data.")]
NOpt = Annotated[int, typer.Option("--n", help="Bootstrap resamples.")]
OutOpt = Annotated[Optional[Path], typer.Option("--out", help="Write to this file."), WRITES_FILE]
DataOpt = Annotated[
    Optional[Path], typer.Option("--data", help="Your own matrix CSV (model column + benchmarks)."), READS
]
InfoOpt = Annotated[Optional[Path], typer.Option("--info", help="CSV of benchmark,name,metric."), READS]
StderrOpt = Annotated[
    Optional[Path],
    typer.Option("--stderr", help="CSV of each score's standard error (model column, benchmark columns: the "
                 "stderr.csv of 'swjax import'): every resample also perturbs the scores by it."),
    READS,
]
ItemsOpt = Annotated[
    Optional[Path],
    typer.Option("--items", help="CSV of each score's item count (the n.csv of 'swjax import'): a binomial "
                 "standard error for shares in [0, 1] where --stderr has none."),
    READS,
]
DataDirOpt = Annotated[
    Optional[Path],
    typer.Option("--data-dir", help="Folder holding the public files (default $SWJAX_DATA_DIR or the cache)."),
    READS,
]
CapsOpt = Annotated[
    Optional[str], typer.Option("--capabilities", help="Comma-separated capability benchmarks.")
]
AgainstOpt = Annotated[
    Optional[str], typer.Option("--against", help="Correlate with this benchmark instead of the score.")
]
X64Opt = Annotated[bool, typer.Option("--x64", help="Compute in float64.")]
FormatOpt = Annotated[Format, typer.Option("--format", help="Output format.")]
SeedOpt = Annotated[int, typer.Option("--seed")]
LevelOpt = Annotated[float, typer.Option("--level", help="Confidence level.")]
ThresholdOpt = Annotated[float, typer.Option("--threshold", help="Verdict boundary |r| = t.")]
PermutationsOpt = Annotated[int, typer.Option("--permutations", help="Permutations for p-values (0: none).")]
DeviceOpt = Annotated[Device, typer.Option("--device")]
MethodOpt = Annotated[
    Optional[Method],
    typer.Option("--method", help="Interval method (default bca; cluster-t with families; percentile across sets)."),
]
BatchOpt = Annotated[Optional[int], typer.Option("--batch-size", help="Resamples per compiled chunk.")]
ClusterByOpt = Annotated[
    Optional[str], typer.Option("--cluster-by", help="Resample whole clusters given by this data column.")
]
class Missing(str, Enum):
    drop = "drop"
    impute = "impute"


class Score(str, Enum):
    paper = "paper"
    pearson = "pearson"
    mean_z = "mean-z"
    irt = "irt"
    compute = "compute"


ScoreOpt = Annotated[
    Score,
    typer.Option("--score", help="Capability measure: the paper's PC1 of the Spearman matrix, PC1 of the Pearson "
                 "matrix, the mean z-score, an item-response ability, or log training FLOP."),
]


MissingCapsOpt = Annotated[
    Missing,
    typer.Option("--missing", help="Models lacking a capability score: drop them, or impute the scores in every resample "
                 f"(intervals up to {IMPUTE_VALIDATED_SHARE:.0%} of capability cells missing)."),
]
FamiliesOpt = Annotated[
    Optional[str],
    typer.Option("--families", help="CSV of model,family ('public': the shipped map; 'auto': by developer): resample whole families."),
    READS,
]


ScoresOpt = Annotated[
    Path, typer.Option("--scores", help="CSV: a 'model' column and one column per new benchmark (higher = safer)."), READS
]


class PlotKind(str, Enum):
    forest = "forest"
    scatter = "scatter"
    scree = "scree"
    heatmap = "heatmap"
    spec_curve = "spec-curve"
    distribution = "distribution"


class Link(str, Enum):
    linear = "linear"
    logistic = "logistic"


ModelsOpt = Annotated[int, typer.Option("--models", help="Models per simulated dataset.")]
SimCapsOpt = Annotated[int, typer.Option("--capabilities", help="Capability benchmarks.")]
LoadingOpt = Annotated[float, typer.Option("--loading", help="Loading of each capability benchmark on the latent.")]
LinkOpt = Annotated[Link, typer.Option("--link", help="linear scores or bounded accuracies (logistic).")]
StepOpt = Annotated[Optional[float], typer.Option("--step", help="Round scores to this grid (ties).")]
MissingOpt = Annotated[float, typer.Option("--missing", help="Share of safety cells missing at random.")]
ShareOpt = Annotated[float, typer.Option("--family-share", help="Share of variance from the family effect.")]


class Duplicates(str, Enum):
    latest = "latest"
    mean = "mean"
    best = "best"
    missing = "missing"


class PublicSet(str, Enum):
    base = "base"
    chat = "chat"
