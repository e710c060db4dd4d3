"""The replication study (docs/evidence/README.md): arms of short training runs on the digits and randman
tasks, and verdicts on the paper's claims by rules written before the runs (:mod:`.rules`)."""
from stabviz.evidence.rules import VERDICTS
from stabviz.evidence.study import SIZE_NAMES, SIZES, Cell, design, execute, replicate

__all__ = ["VERDICTS", "SIZE_NAMES", "SIZES", "Cell", "design", "execute", "replicate"]
