"""Tell people: post a run's findings to the environment's chat webhooks (Slack or Teams), with retries.

One message per command (`lakehouse run pipeline` sends one, not one per step), only when a
finding reaches a channel's `min_severity`. The body is what Slack incoming webhooks and Teams
connectors accept: `text` (both read it) plus Slack `blocks` or a Teams `MessageCard`. A failed
post (connection refused, timeout, HTTP 429 or 5xx) is retried with exponential backoff
(tenacity); a message that cannot be delivered is one warning line, never a failed run.

The URL is a secret and never in the repository: `url_env` names an environment variable,
`secret` a Secret Manager secret read with the job's credentials (REST `versions:access`).
"""

from __future__ import annotations

import base64
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import requests
from tenacity import RetryError, Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from lakehouse.config import Settings, WebhookChannel
from lakehouse.ops.checks import ERROR, Finding, at_least, worst

log = logging.getLogger("lakehouse.ops")

SECRET_MANAGER = "https://secretmanager.googleapis.com"
MAX_FINDINGS = 20  # listed in one message; the rest are counted
COLOURS = {"error": "D70000", "warn": "E8A317", None: "2EB886"}


class Retryable(Exception):
    """A post that may succeed if tried again (connection trouble, 429, 5xx)."""


class Undeliverable(Exception):
    """A post that will not succeed as it is (no URL, 4xx)."""


@dataclass(frozen=True)
class RunOutcome:
    """What a message says about the command that ran: which steps, their run ids and summaries, how it ended."""

    env: str
    command: str  # the step, or `pipeline`
    run_ids: Mapping[str, str]  # step -> run id
    summaries: Mapping[str, Mapping[str, Any]]  # step -> its summary
    findings: Sequence[tuple[str, Finding]]  # (step, finding)
    error: str | None = None  # why the command failed


def message_text(outcome: RunOutcome, min_severity: str = "warn") -> str:
    """The message as Markdown-ish text (Slack mrkdwn and Teams both render it): headline, steps, findings."""
    shown = [(s, f) for s, f in outcome.findings if at_least(f.severity, min_severity)]
    status = "failed" if outcome.error else "succeeded"
    counts = {sev: sum(1 for _, f in outcome.findings if f.severity == sev) for sev in ("error", "warn")}
    lines = [
        f"*lakehouse {outcome.env}: {outcome.command} {status}* "
        f"({counts['error']} error, {counts['warn']} warning findings)"
    ]
    for step, run_id in outcome.run_ids.items():
        summary = outcome.summaries.get(step)
        brief = ", ".join(f"{k}={v}" for k, v in (summary or {}).items() if not isinstance(v, dict | list))
        lines.append(f"• {step} `{run_id}`" + (f": {brief}" if brief else " (did not finish)"))
    if outcome.error:
        lines.append(f"error: {' '.join(outcome.error.split())[:400]}")
    for step, f in shown[:MAX_FINDINGS]:
        lines.append(f"{'🔴' if f.severity == ERROR else '🟠'} {f.severity.upper()} [{step}/{f.check}] {f.message}")
    if len(shown) > MAX_FINDINGS:
        lines.append(f"… and {len(shown) - MAX_FINDINGS} more: `lakehouse alerts --env {outcome.env}`")
    return "\n".join(lines)


def slack_body(outcome: RunOutcome, min_severity: str = "warn") -> dict[str, Any]:
    """A Slack incoming-webhook body: `text` (notifications, fallback) and one mrkdwn section block."""
    text = message_text(outcome, min_severity)
    return {"text": text, "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text[:2900]}}]}


def teams_body(outcome: RunOutcome, min_severity: str = "warn") -> dict[str, Any]:
    """A Teams connector body (MessageCard): title, colour by the worst severity, the text."""
    text = message_text(outcome, min_severity)
    title, _, rest = text.partition("\n")
    return {
        "@type": "MessageCard",
        "@context": "https://schema.org/extensions",
        "summary": title.replace("*", ""),
        "themeColor": COLOURS[worst([f for _, f in outcome.findings])],
        "title": title.replace("*", ""),
        "text": rest.replace("\n", "  \n"),
    }


BODIES = {"slack": slack_body, "teams": teams_body}


def read_secret(name: str, project: str | None, endpoint: str = SECRET_MANAGER, credentials: Any = None,
                timeout: float = 10.0) -> str:
    """The payload of a Secret Manager secret version (`projects/P/secrets/S/versions/V`, or `S` in `project`,
    latest version), read with the given credentials (default: Application Default Credentials)."""
    import google.auth
    from google.auth.transport.requests import AuthorizedSession

    if not name.startswith("projects/"):
        if not project:
            raise Undeliverable(f"secret {name!r} needs gcp_project set (or a full projects/.../secrets/... name)")
        name = f"projects/{project}/secrets/{name}/versions/latest"
    elif "/versions/" not in name:
        name = f"{name}/versions/latest"
    if credentials is None:
        credentials, _ = google.auth.default(scopes=["https://www.googleapis.com/auth/cloud-platform"])
    response = AuthorizedSession(credentials).get(f"{endpoint.rstrip('/')}/v1/{name}:access", timeout=timeout)
    if response.status_code != 200:
        raise Undeliverable(f"Secret Manager answered {response.status_code} for {name}")
    return base64.b64decode(response.json()["payload"]["data"]).decode("utf-8").strip()


def webhook_url(channel: WebhookChannel, settings: Settings, **secret_options: Any) -> str | None:
    """The channel's URL: the environment variable's value (None when it is unset), or the secret's payload."""
    if channel.url_env:
        return os.environ.get(channel.url_env) or None
    return read_secret(channel.secret, settings.gcp_project, **secret_options)


def post(url: str, body: Mapping[str, Any], channel: WebhookChannel) -> int:
    """POST `body` to `url`, retrying connection errors, 429 and 5xx with exponential backoff; returns the tries."""

    def once() -> None:
        try:
            response = requests.post(url, json=body, timeout=channel.timeout_seconds)
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise Retryable(f"{type(exc).__name__}") from None
        if response.status_code == 429 or response.status_code >= 500:
            raise Retryable(f"HTTP {response.status_code}")
        if response.status_code >= 300:
            raise Undeliverable(f"HTTP {response.status_code}: {response.text[:200]}")

    retrying = Retrying(
        stop=stop_after_attempt(channel.attempts),
        wait=wait_exponential(multiplier=channel.backoff_seconds, max=60),
        retry=retry_if_exception_type(Retryable),
        reraise=False,
    )
    try:
        retrying(once)
    except RetryError as exc:
        raise Undeliverable(f"gave up after {channel.attempts} tries ({exc.last_attempt.exception()})") from None
    return retrying.statistics.get("attempt_number", 1)


def notify(settings: Settings, outcome: RunOutcome, **secret_options: Any) -> dict[str, str]:
    """Send the outcome to every channel whose `min_severity` a finding reaches; returns what happened per channel
    (`sent after N tries`, `skipped: ...`, `failed: ...`). Never raises."""
    results: dict[str, str] = {}
    for channel in settings.alerts.channels:
        if not any(at_least(f.severity, channel.min_severity) for _, f in outcome.findings):
            continue
        try:
            url = webhook_url(channel, settings, **secret_options)
            if url is None:
                results[channel.name] = f"skipped: ${channel.url_env} is not set"
                continue
            tries = post(url, BODIES[channel.format](outcome, channel.min_severity), channel)
            results[channel.name] = f"sent after {tries} {'try' if tries == 1 else 'tries'}"
        except Exception as exc:  # noqa: BLE001 - a message that cannot go out never fails the run
            results[channel.name] = f"failed: {' '.join(str(exc).split())[:300]}"
    for name, result in results.items():
        if result.startswith("failed"):
            log.warning("alerts channel %s: %s", name, result)
    return results
