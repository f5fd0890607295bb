"""Exit codes of `lakehouse submit` and the error raised when a job could not be submitted."""

from __future__ import annotations

from lakehouse.errors import UserError

EXIT_OK = 0  # the batch/job succeeded (or --dry-run)
EXIT_USAGE = 2  # bad job, env or profile name, or bad configuration (the CLI's UserError code)
EXIT_FAILED = 3  # the batch/job ran and failed
EXIT_CANCELLED = 4  # the batch/job was cancelled
EXIT_NOT_SUBMITTED = 5  # nothing was started: credentials, permissions, staging or the API refused
EXIT_UNKNOWN = 6  # submitted, but its outcome could not be read (it may still be running)
EXIT_INTERRUPTED = 130  # Ctrl-C while waiting: the batch/job keeps running

# terminal states of a Serverless batch and of a cluster job, by outcome
BATCH_OUTCOMES = {"SUCCEEDED": EXIT_OK, "FAILED": EXIT_FAILED, "CANCELLED": EXIT_CANCELLED}
JOB_OUTCOMES = {"DONE": EXIT_OK, "ERROR": EXIT_FAILED, "CANCELLED": EXIT_CANCELLED}


class SubmitError(UserError):
    """The job could not be submitted for a reason the user can fix; one line, exit code 5."""

    exit_code = EXIT_NOT_SUBMITTED
