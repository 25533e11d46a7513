"""Importing evaluation results: from the files evaluation tools write to one benchmark matrix.

One module per format (:mod:`.lm_eval`, :mod:`.inspect_logs`, :mod:`.helm`, :mod:`.open_llm`,
:mod:`.long_table`), each turning a file into :class:`.records.Result` rows; :mod:`.detect`
recognises formats by content; :mod:`.models` normalises model names; :mod:`.capabilities` holds
the named capability sets; :mod:`.metrics` chooses the metric of a benchmark column and the
direction a metric name implies; :mod:`.combine` builds the matrix and the merge report.
"""

from .capabilities import CAPABILITY_SETS, Member
from .combine import ImportResult, open_matrix, read_results
from .records import Result

__all__ = ["CAPABILITY_SETS", "ImportResult", "Member", "Result", "open_matrix", "read_results"]
