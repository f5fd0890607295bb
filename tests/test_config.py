"""Configuration loading: the shipped files validate, and each kind of mistake gets its one-line message."""

import os
import shutil
from pathlib import Path

import pytest
import yaml

from lakehouse.config import (
    ConfigError,
    load_config,
    load_profile,
    load_settings,
    load_tables,
)

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def conf(tmp_path):
    """A writable copy of conf/ and run_profiles/."""
    shutil.copytree(ROOT / "conf", tmp_path / "conf")
    shutil.copytree(ROOT / "run_profiles", tmp_path / "run_profiles")
    return tmp_path / "conf"


def edit(path: Path, change) -> None:
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))


@pytest.mark.parametrize("env", ["local", "dev", "staging", "prod"])
@pytest.mark.parametrize("profile", ["local", "small", "medium", "large", "xl"])
def test_every_shipped_env_and_profile_loads(env, profile):
    config = load_config(env, profile, ROOT / "conf")
    assert config.settings.env == env
    assert config.profile.name == profile
    assert set(config.tables) == {
        "locations", "customers", "memberships", "tickets", "payments",
        "billing_attempts", "house_accounts", "prepaid_books",
    }


def test_env_defaults_follow_the_design():
    assert load_settings("local", ROOT / "conf").table_format == "parquet"
    for env in ("dev", "staging", "prod"):
        settings = load_settings(env, ROOT / "conf")
        assert settings.table_format == "delta"
        assert settings.dataproc is not None and settings.dataproc.service_account


def test_table_contracts_match_domain_keys():
    tables = load_tables(ROOT / "conf")
    assert tables["tickets"].merge_key == ("sLocationId", "sTicketId")
    assert tables["house_accounts"].allow_null_merge_keys is True
    assert tables["house_accounts"].null_key_fallback == ("sAccountName", "sEmail")
    assert not any(t.allow_null_merge_keys for name, t in tables.items() if name != "house_accounts")
    assert all(t.sequence_column == "dtUpdated" for t in tables.values())


def test_selection_by_environment_variables(monkeypatch, conf):
    monkeypatch.setenv("LAKEHOUSE_ENV", "staging")
    monkeypatch.setenv("LAKEHOUSE_PROFILE", "large")
    config = load_config(conf_dir=conf)
    assert (config.settings.env, config.profile.name) == ("staging", "large")


def test_command_line_paths_override_the_env(conf):
    settings = load_settings("local", conf, {"landing": "/x/landing", "warehouse": None})
    assert settings.landing == "/x/landing"
    # relative local paths are made absolute against the working directory, URIs are kept
    assert settings.warehouse == os.path.abspath("data/warehouse")
    assert settings.layer_root("gold") == os.path.abspath("data/warehouse") + "/gold"
    remote = load_settings("local", conf, {"landing": "gs://b/landing", "warehouse": "file:///w"})
    assert (remote.landing, remote.warehouse) == ("gs://b/landing", "file:///w")


def test_unknown_key_names_file_and_key(conf):
    edit(conf / "env" / "local.yaml", lambda d: d.update(warehose="typo"))
    with pytest.raises(ConfigError) as err:
        load_settings("local", conf)
    assert str(err.value) == f"{conf / 'env' / 'local.yaml'}: unknown key 'warehose' (remove it or check its spelling)"


def test_bad_value_names_key_and_allowed_values(conf):
    edit(conf / "env" / "local.yaml", lambda d: d.update(table_format="orc"))
    with pytest.raises(ConfigError, match=r"local\.yaml: key 'table_format' has value 'orc'; allowed: 'parquet' or 'delta'"):
        load_settings("local", conf)


def test_missing_required_key(conf):
    edit(conf / "tables" / "tickets.yaml", lambda d: d.pop("merge_key"))
    with pytest.raises(ConfigError, match=r"tickets\.yaml: missing required key 'merge_key'"):
        load_tables(conf)


def test_column_errors_name_the_column_not_its_index(conf):
    def bad_type(d):
        d["columns"][2]["type"] = "money"

    edit(conf / "tables" / "tickets.yaml", bad_type)
    with pytest.raises(ConfigError, match=r"key 'columns\.sCustomerId\.type' has value 'money'; allowed: 'string'"):
        load_tables(conf)


def test_merge_key_must_be_a_column(conf):
    edit(conf / "tables" / "payments.yaml", lambda d: d.update(merge_key=["sPaymentID"]))
    with pytest.raises(ConfigError, match=r"payments\.yaml: key column 'sPaymentID' is not among the columns"):
        load_tables(conf)


def test_null_merge_keys_need_a_fallback(conf):
    edit(conf / "tables" / "house_accounts.yaml", lambda d: d.pop("null_key_fallback"))
    with pytest.raises(ConfigError, match="allow_null_merge_keys: true needs a null_key_fallback"):
        load_tables(conf)


def test_expectation_action_is_validated(conf):
    edit(conf / "tables" / "tickets.yaml", lambda d: d["expectations"][0].update(action="drop"))
    with pytest.raises(ConfigError, match=r"key 'expectations\.amount_not_negative\.action' has value 'drop'; allowed: 'warn', 'quarantine' or 'fail'"):
        load_tables(conf)


def test_entity_must_match_file_name(conf):
    edit(conf / "tables" / "tickets.yaml", lambda d: d.update(entity="ticket"))
    with pytest.raises(ConfigError, match=r"tickets\.yaml: key 'entity' is 'ticket' but the file is tickets\.yaml"):
        load_tables(conf)


def test_unknown_environment_lists_choices(conf):
    with pytest.raises(ConfigError, match=r"no such environment 'qa'; choose one of \['dev', 'local', 'prod', 'staging'\]"):
        load_settings("qa", conf)


def test_unknown_profile_lists_choices(conf):
    with pytest.raises(ConfigError, match=r"no such run profile 'huge'; choose one of \['large', 'local', 'medium', 'small', 'xl'\]"):
        load_profile("huge", conf.parent / "run_profiles")


def test_profile_bounds_are_checked(conf):
    edit(conf.parent / "run_profiles" / "large.yaml", lambda d: d["serverless"].update(min_executors=64))
    with pytest.raises(ConfigError, match=r"large\.yaml: key 'serverless': need min_executors <= executor_instances <= max_executors"):
        load_profile("large", conf.parent / "run_profiles")


def test_invalid_yaml_names_the_line(conf):
    (conf / "base.yaml").write_text("keep_versions: [1,\n")
    with pytest.raises(ConfigError, match=r"base\.yaml: line \d+ is not valid YAML"):
        load_settings("local", conf)


def test_negative_keep_versions_is_rejected(conf):
    edit(conf / "base.yaml", lambda d: d.update(keep_versions=0))
    with pytest.raises(ConfigError, match=r"key 'keep_versions' has value 0: Input should be greater than or equal to 1"):
        load_settings("local", conf)
