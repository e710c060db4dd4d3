"""The replication study (docs/evidence/README.md): arms of short training runs on the digits and randman
tasks, verdicts on the paper's claims by fixed rules, each effect judged with its bootstrap interval over
seeds (:mod:`.rules`), and its committed results with the reruns drawn over them (:mod:`.results`).
Importing it never loads torch."""

from stabviz.evidence.results import load_results, rerun_cells, rerun_overlay, results_folder
from stabviz.evidence.rules import VERDICTS
from stabviz.evidence.study import SIZE_NAMES, SIZES, Cell, design, execute, figures, replicate

__all__ = [
    "VERDICTS",
    "SIZE_NAMES",
    "SIZES",
    "Cell",
    "design",
    "execute",
    "figures",
    "replicate",
    "load_results",
    "rerun_cells",
    "rerun_overlay",
    "results_folder",
]
