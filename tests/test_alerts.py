"""Health checks and alerts: each check on small facts, the marker lines, ops.alerts, the webhook with retries
against a receiver on loopback that fails its first requests, Secret Manager on loopback, failing a run."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest
from fakes.webhook import FakeSecretManager, Receiver
from google.auth.credentials import AnonymousCredentials

from lakehouse import pipeline
from lakehouse.config import ChecksSettings, ConfigError, WebhookChannel, load_config, load_settings
from lakehouse.contract import ALERTS, OPS_SCHEMAS
from lakehouse.ops.alerts import ALERT_MARKER, AlertError, marker_line, raise_on_error
from lakehouse.ops.checks import CHECKS, Finding, RowsRead, RunFacts, Share, StoreFreshness, evaluate
from lakehouse.ops.notify import RunOutcome, notify, post, read_secret, slack_body, teams_body
from lakehouse.runtime import JobOptions

ROOT = Path(__file__).resolve().parents[1]
CHECKS_CFG = ChecksSettings()  # the defaults: quarantine 5% / 25%, rows drop 50% / 90%, AUC 0.65 / 0.55


def test_quarantine_share_per_entity_and_store():
    facts = RunFacts("r1", "silver", shares=[
        Share("silver", "tickets", None, 10_000, 300),  # 3%: fine
        Share("silver", "tickets", "store_01", 5_000, 50),  # 1%
        Share("silver", "tickets", "store_02", 5_000, 250),  # 5%: not above 5%
        Share("silver", "payments", "store_02", 1_000, 300),  # 30%: error
        Share("silver", "payments", None, 2_000, 301),  # 15.05%: warn
        Share("silver", "locations", "store_09", 20, 20),  # 100% of 20 rows: under min_rows, not judged
    ])
    found = evaluate(facts, CHECKS_CFG)
    assert [(f.check, f.severity, f.entity, f.store_id, f.value, f.threshold) for f in found] == [
        ("quarantine_share", "error", "payments", "store_02", 0.3, 0.25),
        ("quarantine_share", "warn", "payments", None, 0.1505, 0.05),
    ]
    assert found[0].message == "silver payments of store_02: 300 of 1,000 rows quarantined (30.0%, above 25%)"
    per_entity_only = ChecksSettings(quarantine_share={"per_store": False})
    assert [f.store_id for f in evaluate(facts, per_entity_only)] == [None]


def test_rows_drop_against_the_previous_comparable_run():
    facts = RunFacts("r2", "bronze", rows_read=[
        RowsRead("bronze.tickets", "tickets", 400, 1_000),  # -60%: warn
        RowsRead("bronze.payments", "payments", 50, 1_000),  # -95%: error
        RowsRead("bronze.customers", "customers", 10, 900),  # baseline under 1,000: not judged
        RowsRead("bronze.memberships", "memberships", 5_000, 1_000),  # more rows: fine
        RowsRead("bronze.locations", "locations", 0, None),  # no comparable run
    ])
    found = evaluate(facts, CHECKS_CFG)
    assert [(f.severity, f.entity, f.value, f.threshold) for f in found] == [
        ("error", "payments", 0.95, 0.9), ("warn", "tickets", 0.6, 0.5),
    ]
    assert found[1].message == "bronze.tickets: 400 rows read, 60% fewer than the previous run's 1,000 (more than 50%)"


def test_freshness_step_failed_and_model_auc():
    facts = RunFacts(
        "r3", "bronze",
        freshness=[
            StoreFreshness("store_01", "tickets", "ok", "20260930T235900_0001", 0.0, "31d", 32, 63),
            StoreFreshness("store_03", "tickets", "late", "20260831T235900_0001", 33.0, "31d", 32, 63),
            StoreFreshness("store_03", "payments", "missing", "20260731T235900_0001", 64.0, "31d", 32, 63),
            StoreFreshness("store_04", "prepaid_books", "missing", None, None, "31d"),
        ],
        error="RuntimeError: the JVM went away\n  at ...",
        model_version="v7", model_auc=0.6,
    )
    found = evaluate(facts, CHECKS_CFG)
    assert [(f.check, f.severity, f.store_id, f.entity, f.value, f.threshold) for f in found] == [
        ("freshness", "error", "store_03", "payments", 64.0, 63),
        ("freshness", "error", "store_04", "prepaid_books", None, None),
        ("step_failed", "error", None, None, None, None),
        ("freshness", "warn", "store_03", "tickets", 33.0, 32),
        ("model_auc", "warn", None, "gold.model_metrics", 0.6, 0.65),
    ]
    messages = [f.message for f in found]
    assert messages[0] == ("store_03 payments: missing, last export 20260731T235900_0001 is 64.0 days old "
                           "(expected every 31d, late after 32d, missing after 63d)")
    assert messages[1] == "store_04 never exported prepaid_books (expected every 31d)"
    assert messages[2] == "step bronze failed: RuntimeError: the JVM went away at ..."
    assert messages[4] == "churn model v7: test ROC AUC 0.600 is below 0.65"
    assert evaluate(RunFacts("r", "scoring", model_auc=0.5), CHECKS_CFG)[0].severity == "error"
    quiet = ChecksSettings(freshness={"enabled": False}, model_auc={"enabled": False}, step_failed={"severity": "warn"})
    assert [(f.check, f.severity) for f in evaluate(facts, quiet)] == [("step_failed", "warn")]


def test_the_registry_is_the_settings():
    assert list(CHECKS) == list(ChecksSettings.model_fields)


def test_marker_line_is_what_cloud_monitoring_matches():
    line = marker_line(Finding("freshness", "error", 'store_03 "tickets" late', "tickets", "store_03", 61.0, 31.0))
    assert line == ('LAKEHOUSE_ALERT severity=error check=freshness entity=tickets store=store_03 '
                    "message=\"store_03 'tickets' late\"")
    assert "LAKEHOUSE_ALERT severity=error" in line  # the filter of modules/monitoring


@pytest.mark.parametrize(
    ("alerts", "message"),
    [
        ({"checks": {"quarantine_share": {"warn_above": 0.3, "error_above": 0.2}}},
         "key 'alerts.checks.quarantine_share': warn_above 0.3 must be below error_above 0.2"),
        ({"checks": {"model_auc": {"warn_below": 0.5}}},
         "key 'alerts.checks.model_auc': error_below 0.55 must be below warn_below 0.5"),
        ({"channels": [{"name": "chat", "url_env": "HOOK", "secret": "s"}]},
         "channel chat: set exactly one of url_env (an environment variable) or secret"),
        ({"channels": [{"name": "chat", "format": "discord", "url_env": "HOOK"}]},
         "key 'alerts.channels.0.format' has value 'discord'; allowed: 'slack' or 'teams'"),
        ({"checks": {"rows_dropped": {}}}, "unknown key 'alerts.checks.rows_dropped'"),
    ],
)
def test_alert_settings_mistakes_are_one_line(tmp_path, alerts, message):
    import shutil

    import yaml

    shutil.copytree(ROOT / "conf", tmp_path / "conf")
    env = tmp_path / "conf" / "env" / "local.yaml"
    data = yaml.safe_load(env.read_text())
    data["alerts"] = alerts
    env.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError) as err:
        load_settings("local", tmp_path / "conf")
    assert message in str(err.value) and "\n" not in str(err.value)


# ---------------------------------------------------------------- webhooks


def outcome(findings=None, error=None) -> RunOutcome:
    findings = findings if findings is not None else [
        ("bronze", Finding("freshness", "error", "store_03 tickets: missing", "tickets", "store_03", 61.0, 31.0)),
        ("silver", Finding("quarantine_share", "warn", "silver payments: 6% quarantined", "payments", None, 0.06, 0.05)),
    ]
    return RunOutcome(
        "local", "pipeline", {"bronze": "20261204T160000Z-bronze_merge-1", "silver": "20261204T160100Z-silver_clean-2"},
        {"bronze": {"files_read": 12, "rows_read": 3400, "freshness": {"ok": 40}}, "silver": {"quarantined": 12}},
        findings, error,
    )


def channel(**kw) -> WebhookChannel:
    return WebhookChannel(**{"name": "chat", "url_env": "LAKEHOUSE_TEST_HOOK", "backoff_seconds": 0.01, **kw})


def test_slack_and_teams_bodies_carry_the_summary_and_findings():
    slack = slack_body(outcome())
    assert slack["text"].splitlines()[0] == "*lakehouse local: pipeline succeeded* (1 error, 1 warning findings)"
    assert "• bronze `20261204T160000Z-bronze_merge-1`: files_read=12, rows_read=3400" in slack["text"]
    assert "🔴 ERROR [bronze/freshness] store_03 tickets: missing" in slack["text"]
    assert slack["blocks"][0]["text"] == {"type": "mrkdwn", "text": slack["text"]}
    errors_only = slack_body(outcome(), "error")["text"]
    assert "quarantine_share" not in errors_only and "freshness" in errors_only
    teams = teams_body(outcome(error="AlertError: 1 error finding"))
    assert teams["@type"] == "MessageCard" and teams["themeColor"] == "D70000"
    assert teams["title"] == "lakehouse local: pipeline failed (1 error, 1 warning findings)"
    assert "error: AlertError: 1 error finding" in teams["text"]


def test_a_webhook_that_fails_twice_gets_the_message_on_the_third_try(monkeypatch):
    settings = load_settings("local").model_copy(update={"alerts": load_settings("local").alerts.model_copy(
        update={"channels": (channel(),)})})
    with Receiver(fail_first=2) as receiver:
        monkeypatch.setenv("LAKEHOUSE_TEST_HOOK", receiver.url)
        assert notify(settings, outcome()) == {"chat": "sent after 3 tries"}
    assert receiver.statuses == [503, 503, 200]
    assert receiver.bodies[0] == receiver.bodies[2] == slack_body(outcome())


def test_a_webhook_that_keeps_failing_or_refuses_is_one_result_not_a_failed_run(monkeypatch):
    with Receiver(fail_first=99, fail_status=500) as receiver:
        with pytest.raises(Exception, match=r"gave up after 3 tries \(HTTP 500\)"):
            post(receiver.url, {"text": "x"}, channel(attempts=3))
        assert receiver.statuses == [500, 500, 500]
    with Receiver() as receiver:  # a wrong path: 404 is not retried
        settings = load_settings("local").model_copy(update={"alerts": load_settings("local").alerts.model_copy(
            update={"channels": (channel(),)})})
        monkeypatch.setenv("LAKEHOUSE_TEST_HOOK", receiver.url + "-wrong")
        result = notify(settings, outcome())
        assert result["chat"].startswith("failed: HTTP 404") and receiver.statuses == [404]
    monkeypatch.delenv("LAKEHOUSE_TEST_HOOK")
    assert notify(settings, outcome()) == {"chat": "skipped: $LAKEHOUSE_TEST_HOOK is not set"}
    # a channel for errors only hears nothing of a run with warnings only
    warn_only = outcome([("silver", Finding("quarantine_share", "warn", "x"))])
    errors = settings.model_copy(update={"alerts": settings.alerts.model_copy(
        update={"channels": (channel(min_severity="error"),)})})
    assert notify(errors, warn_only) == {}


def test_the_webhook_url_from_secret_manager():
    name = "projects/lakehouse-dev/secrets/lakehouse-dev-alert-webhook/versions/latest"
    with FakeSecretManager({name: "https://hooks.example/T1/B2/c3\n"}) as fake:
        options = {"endpoint": fake.url, "credentials": AnonymousCredentials()}
        assert read_secret("lakehouse-dev-alert-webhook", "lakehouse-dev", **options) == "https://hooks.example/T1/B2/c3"
        assert fake.requests == [f"/v1/{name}:access"]
        with pytest.raises(Exception, match="Secret Manager answered 404"):
            read_secret("projects/p/secrets/nope", None, **options)
        with Receiver() as receiver:
            settings = load_settings("dev")
            hook = settings.alerts.channels[0].model_copy(update={"backoff_seconds": 0.01})
            secret = f"projects/lakehouse-dev/secrets/{hook.secret}/versions/latest"
            fake.secrets[secret] = receiver.url
            dev = settings.model_copy(update={"alerts": settings.alerts.model_copy(update={"channels": (hook,)})})
            assert notify(dev, outcome(), **options) == {"ops-chat": "sent after 1 try"}
            assert receiver.bodies == [slack_body(outcome(), "error")]


# ---------------------------------------------------------------- in a run


def test_an_error_finding_fails_the_run_only_when_configured():
    errors = [Finding("freshness", "error", "store_03 tickets: missing")]
    settings = load_settings("local")
    run = SimpleNamespace(run_id="r9", settings=settings)
    raise_on_error(run, errors)  # off by default
    run.settings = settings.model_copy(update={"alerts": settings.alerts.model_copy(update={"fail_on_error": True})})
    raise_on_error(run, [Finding("rows_drop", "warn", "x")])  # warnings never fail a run
    with pytest.raises(AlertError, match=r"1 error finding\(s\) in run r9, e.g. store_03 tickets: missing"):
        raise_on_error(run, errors)


def test_a_failed_step_is_recorded_printed_and_sent(spark, tmp_path, monkeypatch, capsys):
    """gold without silver fails: its run gets a step_failed finding in ops.alerts, a LAKEHOUSE_ALERT line, and
    the receiver (failing once first) gets one message naming the run."""
    from lakehouse.tables import open_table_store

    options = JobOptions(env="local", profile="local", landing=str(tmp_path / "landing"),
                         warehouse=str(tmp_path / "warehouse"))
    with Receiver(fail_first=1) as receiver:
        monkeypatch.setenv("LAKEHOUSE_ALERT_WEBHOOK", receiver.url)
        lines = []
        with pytest.raises(Exception, match="gold needs silver.locations"):
            pipeline.run_steps("gold", options, report=lambda *a: lines.append(str(a[0])))
    out = capsys.readouterr().out
    marker = [line for line in out.splitlines() if line.startswith(ALERT_MARKER)]
    assert len(marker) == 1 and marker[0].startswith("LAKEHOUSE_ALERT severity=error check=step_failed message=")
    assert "alerts: local-webhook sent after 2 tries" in lines
    assert receiver.statuses == [503, 200]
    text = receiver.bodies[-1]["text"]
    run_id = re.search(r"`(\S+-gold_kpis-\S+)`", text).group(1)
    assert "*lakehouse local: gold failed*" in text and "step gold failed: UserError: gold needs silver" in text
    config = load_config("local", "local", overrides={"warehouse": options.warehouse})
    alerts = open_table_store(spark, config.settings).read(ALERTS)
    assert alerts.columns == OPS_SCHEMAS[ALERTS].names
    rows = [r.asDict() for r in alerts.collect()]
    assert [(r["run_id"], r["check"], r["severity"]) for r in rows] == [(run_id, "step_failed", "error")]
    assert rows[0]["raised_at"] <= datetime.now(UTC).replace(tzinfo=None)


def test_the_facts_of_a_bronze_and_a_silver_run(spark, config):
    """Per-store quarantine from the run's manifest and quarantine rows (bronze) or the rebuilt tables (silver),
    and rows read against the previous successful run of the same kind."""
    from lakehouse.contract import (
        BRONZE_MANIFEST,
        RUN_LOG,
        bronze_quarantine_schema,
        bronze_schema,
        silver_quarantine_schema,
    )
    from lakehouse.ops.alerts import gather
    from lakehouse.runtime import RunContext
    from lakehouse.tables import open_table_store

    tables = open_table_store(spark, config.settings)
    spec = config.tables["payments"]
    started = datetime(2026, 12, 4, 3, 0, tzinfo=UTC)
    run = RunContext("r2", "bronze_merge", started, "sha", config, spark, tables)
    run.record("bronze.payments", rows_in=300, rows_out=280, quarantined_null_merge_key=20, full_load=0)
    run.record("bronze.tickets", rows_in=100, rows_out=100, quarantined_null_merge_key=0, full_load=0)

    def log_row(run_id, at, rows, full_load):
        return {"run_id": run_id, "job": "bronze_merge", "env": "local", "profile": "local", "git_sha": None,
                "started_at": at, "ended_at": at, "status": "succeeded", "error": None,
                "tables": [{"table": "bronze.payments", "rows_in": rows, "rows_out": rows,
                            "details": {"full_load": full_load}}]}

    tables.overwrite(RUN_LOG, spark.createDataFrame([
        log_row("r0", datetime(2026, 12, 2), 9000, 1),  # a whole-table load: not comparable
        log_row("r1", datetime(2026, 12, 3), 2000, 0),  # the previous incremental run
    ], OPS_SCHEMAS[RUN_LOG]))
    manifest = [(f"/l/{s}/payments/{i}.csv", "payments", s, str(i), "csv", 1, 0, "merged", n, "r2", started)
                for i, (s, n) in enumerate([("store_01", 200), ("store_02", 60), ("store_02", 40)])]
    tables.overwrite(BRONZE_MANIFEST, spark.createDataFrame(manifest, OPS_SCHEMAS[BRONZE_MANIFEST]))

    def bronze_rows(schema, stores_runs):
        names = schema.names
        return spark.createDataFrame(
            [tuple({"_store_id": s, "_run_id": r}.get(c) for c in names) for s, r in stores_runs], schema
        )

    held = [("store_02", "r2")] * 20 + [("store_01", "r1")] * 5  # r1's rows are another run's
    tables.overwrite("quarantine.bronze_payments", bronze_rows(bronze_quarantine_schema(spec), held))

    facts = gather(run, "bronze")
    assert sorted((s.entity, s.store_id or "", s.rows, s.quarantined) for s in facts.shares) == [
        ("payments", "", 300, 20), ("payments", "store_01", 200, 0), ("payments", "store_02", 100, 20),
        ("tickets", "", 100, 0),  # nothing quarantined: no table read, no per-store rows
    ]
    assert {r.table: (r.rows, r.previous, r.previous_run) for r in facts.rows_read} == {
        "bronze.payments": (300, 2000, "r1"), "bronze.tickets": (100, None, None),
    }
    found = evaluate(facts, CHECKS_CFG)
    assert [(f.check, f.severity, f.store_id) for f in found] == [
        ("quarantine_share", "warn", None), ("quarantine_share", "warn", "store_02"), ("rows_drop", "warn", None),
    ]

    silver = RunContext("r3", "silver_clean", started, "sha", config, spark, tables)
    silver.record("silver.payments", rows_in=10, rows_out=7, quarantined=3, warned=0)
    tables.overwrite("bronze.payments", bronze_rows(bronze_schema(spec), [("store_01", "r2")] * 6 + [("store_02", "r2")] * 4))
    tables.overwrite("quarantine.payments", bronze_rows(silver_quarantine_schema(spec), [("store_02", "r3")] * 3))
    shares = gather(silver, "silver").shares
    assert sorted((s.store_id or "", s.rows, s.quarantined) for s in shares) == [
        ("", 10, 3), ("store_01", 6, 0), ("store_02", 4, 3),
    ]
