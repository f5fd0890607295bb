"""Named points where a test can kill a job, to prove a re-run repairs what a kill leaves (off by default).

`point("bronze.merged")` does nothing unless the environment variable `LAKEHOUSE_FAULT` names that
point: then the process kills itself with SIGKILL right there, as an operator's `kill -9`, an
out-of-memory killer or a preempted VM would. tests/test_faults.py kills runs at every point and
checks that running them again gives exactly what one uninterrupted run gives.
"""

from __future__ import annotations

import os
import signal

FAULT_ENV = "LAKEHOUSE_FAULT"


def point(name: str) -> None:
    """Die here (SIGKILL) when `$LAKEHOUSE_FAULT` is `name`."""
    if os.environ.get(FAULT_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)
