"""spark-submit entrypoint: `lakehouse run <step>` for the step whose entrypoint this file is
(lakehouse.steps); see `lakehouse run --help` for the options."""

import os
import sys

try:
    from lakehouse.cli import run_job
except ImportError:  # a plain checkout without `pip install -e .`: use its src/
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "src"))
    from lakehouse.cli import run_job

if __name__ == "__main__":
    run_job(__file__)
