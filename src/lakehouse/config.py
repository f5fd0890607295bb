"""Load and validate the YAML configuration: base, environment, run profile and table contracts."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationError,
    field_validator,
    model_validator,
)

from lakehouse.errors import UserError
from lakehouse.fs import normalize

ENVIRONMENTS = ("local", "dev", "staging", "prod")
PROFILES = ("local", "small", "medium", "large", "xl")
LOGICAL_TYPES = ("string", "boolean", "integer", "decimal", "timestamp", "date", "enum")
ACTIONS = ("warn", "quarantine", "fail")
LAYERS = ("bronze", "silver", "gold", "quarantine", "ops")


class ConfigError(UserError, ValueError):
    """A user-fixable configuration problem; its message is one line naming file, key and fix."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# ---------------------------------------------------------------- environment + base settings


class DataprocSettings(_Model):
    """Where and as whom Dataproc runs the jobs of one environment."""

    staging_bucket: str
    temp_bucket: str | None = None
    service_account: str
    subnetwork: str | None = None
    runtime_version: str = "2.2"
    cluster: str | None = None
    jars_uri: str | None = None  # gs:// folder holding delta-spark + delta-storage jars
    container_image: str | None = None  # Serverless custom image (when the runtime lacks a dependency)


class BronzeSettings(_Model):
    """Options of the bronze merge."""

    fail_on_bad_files: bool = False
    formats: tuple[Literal["csv", "parquet", "json"], ...] = ("csv", "parquet", "json")
    # a full refresh that would drop more than this share of the exports merged so far is refused (--force)
    full_refresh_max_drop: float = Field(0.2, ge=0, le=1)


class GoldSettings(_Model):
    """Options of the gold KPIs."""

    bottom_n: int = Field(20, ge=1)


class ScoringSettings(_Model):
    """Options of the churn-risk model."""

    label_horizon_days: int = Field(30, ge=1)
    snapshot_every_months: int = Field(1, ge=1)
    test_fraction: float = Field(0.25, gt=0, lt=1)
    min_auc: float = Field(0.0, ge=0, le=1)
    warmup_months: int = Field(3, ge=0)  # months of history before the first training snapshot
    algorithm: Literal["auto", "logistic_regression", "gbt"] = "auto"  # auto: the better validation AUC
    seed: int = 7
    max_train_rows: int = Field(200_000, ge=1_000)  # models fit on a random sample of at most this many rows
    gbt_max_iter: int = Field(30, ge=1)  # boosting rounds of the gradient-boosted trees


# ---------------------------------------------------------------- operations: freshness, checks, alerts

SEVERITIES = ("warn", "error")
Severity = Literal["warn", "error"]
_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw])")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_duration(value: Any) -> timedelta:
    """A duration written `90s`, `30m`, `12h`, `1d`, `2w` (or `1.5d`) as a timedelta; ValueError otherwise."""
    if isinstance(value, timedelta):
        return value
    match = _DURATION.fullmatch(str(value).strip().lower()) if isinstance(value, str) else None
    if not match or float(match.group(1)) <= 0:
        raise ValueError(f"{value!r} is not a duration such as 12h, 1d or 2w")
    return timedelta(seconds=float(match.group(1)) * _UNIT_SECONDS[match.group(2)])


def format_duration(value: timedelta) -> str:
    """A timedelta written the way the YAML takes it (`1d`, `36h`, `90s`)."""
    seconds = int(value.total_seconds())
    for unit in ("w", "d", "h", "m"):
        if seconds % _UNIT_SECONDS[unit] == 0:
            return f"{seconds // _UNIT_SECONDS[unit]}{unit}"
    return f"{seconds}s"


Duration = Annotated[timedelta, BeforeValidator(parse_duration), PlainSerializer(format_duration)]


@dataclass(frozen=True)
class Cadence:
    """How often a store is expected to export an entity, and when its last export is late or missing."""

    expected_every: timedelta
    warn_after: timedelta  # older than this: late
    error_after: timedelta  # older than this: missing


class CadenceOverride(_Model):
    """Part of a cadence an entity or a store overrides (unset keys come from the level below)."""

    expected_every: Duration | None = None
    warn_after: Duration | None = None
    error_after: Duration | None = None


class FreshnessSettings(_Model):
    """The exports' expected cadence (defaults, per entity, per store) and what freshness is measured from.

    A store's cadence wins over an entity's, which wins over the defaults. A level that sets
    `expected_every` without thresholds gets `warn_after` = 2 x and `error_after` = 3 x its cadence.
    `as_of: run_time` measures the age of the last export at the bronze run's start (what a
    scheduled pipeline wants); `latest_export` measures it at the latest export of any store and
    entity, i.e. each store against the rest of the network (replayed or historical landing data,
    such as the sample).
    """

    as_of: Literal["run_time", "latest_export"] = "run_time"
    expected_every: Duration = timedelta(days=1)
    warn_after: Duration | None = None
    error_after: Duration | None = None
    entities: dict[str, CadenceOverride] = Field(default_factory=dict)
    stores: dict[str, CadenceOverride] = Field(default_factory=dict)

    def cadence(self, store_id: str, entity: str) -> Cadence:
        """The cadence a store's exports of an entity are judged against."""
        every, warn, error = self.expected_every, self.warn_after, self.error_after
        for level in (self.entities.get(entity), self.stores.get(store_id)):
            if level is None:
                continue
            if level.expected_every is not None:  # a new cadence brings its own thresholds
                every, warn, error = level.expected_every, None, None
            warn = level.warn_after or warn
            error = level.error_after or error
        return Cadence(every, warn or 2 * every, error or 3 * every)

    @model_validator(mode="after")
    def _ordered(self) -> FreshnessSettings:
        combos = [("", "", "defaults")]
        combos += [("", e, f"entities.{e}") for e in self.entities]
        combos += [(s, "", f"stores.{s}") for s in self.stores]
        combos += [(s, e, f"stores.{s} with entities.{e}") for s in self.stores for e in self.entities]
        for store, entity, where in combos:
            c = self.cadence(store, entity)
            if not c.expected_every <= c.warn_after < c.error_after:
                raise ValueError(
                    f"{where}: need expected_every <= warn_after < error_after, got "
                    f"{format_duration(c.expected_every)}, {format_duration(c.warn_after)}, {format_duration(c.error_after)}"
                )
        return self


class _Thresholds(_Model):
    """A check with a warn and an error threshold on a share (0..1)."""

    enabled: bool = True

    @model_validator(mode="after")
    def _warn_before_error(self):
        pairs = [("warn_above", "error_above"), ("error_below", "warn_below")]
        for low, high in pairs:
            if hasattr(self, low) and getattr(self, low) >= getattr(self, high):
                raise ValueError(f"{low} {getattr(self, low)} must be below {high} {getattr(self, high)}")
        return self


class QuarantineShareCheck(_Thresholds):
    """Share of the rows a run read that went to quarantine, per entity (and per store)."""

    warn_above: float = Field(0.05, ge=0, le=1)
    error_above: float = Field(0.25, ge=0, le=1)
    per_store: bool = True
    min_rows: int = Field(100, ge=0)  # fewer rows read than this: not judged (a handful of rows is noise)


class RowsDropCheck(_Thresholds):
    """Rows read per table, against the previous successful run of the same job (and bronze load kind)."""

    warn_above: float = Field(0.5, ge=0, le=1)
    error_above: float = Field(0.9, ge=0, le=1)
    min_previous_rows: int = Field(1000, ge=0)  # smaller baselines are not judged


class FreshnessCheck(_Model):
    """Stores whose exports are late or missing (ops.source_freshness)."""

    enabled: bool = True
    late: Severity = "warn"
    missing: Severity = "error"


class StepFailedCheck(_Model):
    """A step of the run that failed."""

    enabled: bool = True
    severity: Severity = "error"


class ModelAucCheck(_Thresholds):
    """The test ROC AUC of a churn model trained by the run."""

    warn_below: float = Field(0.65, ge=0, le=1)
    error_below: float = Field(0.55, ge=0, le=1)


class ChecksSettings(_Model):
    """Every health check's thresholds; the names are those of `lakehouse.ops.checks.CHECKS`."""

    quarantine_share: QuarantineShareCheck = QuarantineShareCheck()
    rows_drop: RowsDropCheck = RowsDropCheck()
    freshness: FreshnessCheck = FreshnessCheck()
    step_failed: StepFailedCheck = StepFailedCheck()
    model_auc: ModelAucCheck = ModelAucCheck()


class WebhookChannel(_Model):
    """A chat webhook (Slack incoming webhook, Teams connector) the findings of a run are posted to.

    The URL is a secret: it comes from the environment variable `url_env`, or from the Secret
    Manager secret `secret` (`projects/P/secrets/S/versions/V`, or a secret name in the
    environment's project, latest version), never from the YAML.
    """

    name: str = Field(pattern=r"^[a-z0-9_-]+$")
    format: Literal["slack", "teams"] = "slack"
    url_env: str | None = Field(None, pattern=r"^[A-Z_][A-Z0-9_]*$")
    secret: str | None = None
    min_severity: Severity = "warn"
    attempts: int = Field(4, ge=1, le=10)  # tries per message, with exponential backoff between them
    backoff_seconds: float = Field(1.0, gt=0, le=60)  # the first wait; doubled after each failed try
    timeout_seconds: float = Field(10.0, gt=0, le=120)

    @model_validator(mode="after")
    def _one_source(self) -> WebhookChannel:
        if (self.url_env is None) == (self.secret is None):
            raise ValueError(f"channel {self.name}: set exactly one of url_env (an environment variable) or secret")
        return self


class AlertSettings(_Model):
    """Health checks after every run, where their findings are sent, and whether an error fails the run."""

    fail_on_error: bool = False  # an `error` finding fails the run (and stops a pipeline after that step)
    checks: ChecksSettings = ChecksSettings()
    channels: tuple[WebhookChannel, ...] = ()


class Settings(_Model):
    """Base settings merged with one environment's overrides."""

    env: str
    gcp_project: str | None = None
    region: str = "europe-west1"
    landing: str
    warehouse: str
    layer_roots: dict[Literal["bronze", "silver", "gold", "quarantine", "ops"], str] = Field(
        default_factory=dict
    )
    table_format: Literal["parquet", "delta"] = "parquet"
    keep_versions: int = Field(5, ge=1)
    spark_master: str | None = None
    bigquery_dataset: str | None = None
    dataproc: DataprocSettings | None = None
    bronze: BronzeSettings = BronzeSettings()
    gold: GoldSettings = GoldSettings()
    scoring: ScoringSettings = ScoringSettings()
    freshness: FreshnessSettings = FreshnessSettings()
    alerts: AlertSettings = AlertSettings()

    @field_validator("landing", "warehouse")
    @classmethod
    def _absolute_local_path(cls, value: str) -> str:
        return normalize(value)

    @field_validator("layer_roots")
    @classmethod
    def _absolute_layer_roots(cls, value: dict[str, str]) -> dict[str, str]:
        return {layer: normalize(root) for layer, root in value.items()}

    def layer_root(self, layer: str) -> str:
        """Root URI of a layer: its own bucket when configured, else `<warehouse>/<layer>`."""
        return self.layer_roots.get(layer, f"{self.warehouse.rstrip('/')}/{layer}")


# ---------------------------------------------------------------- run profiles


class ServerlessShape(_Model):
    """Dataproc Serverless sizing of a run profile."""

    driver_cores: int = Field(ge=4)
    driver_memory: str
    executor_cores: int = Field(ge=4)
    executor_memory: str
    executor_instances: int = Field(ge=2)
    min_executors: int = Field(ge=2)
    max_executors: int = Field(ge=2)

    @model_validator(mode="after")
    def _bounds(self) -> ServerlessShape:
        if not self.min_executors <= self.executor_instances <= self.max_executors:
            raise ValueError("need min_executors <= executor_instances <= max_executors")
        return self

    @field_validator("driver_cores", "executor_cores")
    @classmethod
    def _serverless_cores(cls, value: int) -> int:
        if value not in (4, 8, 16):
            raise ValueError(f"Dataproc Serverless allows 4, 8 or 16 cores, not {value}")
        return value

    @model_validator(mode="after")
    def _memory_per_core(self) -> ServerlessShape:
        # Serverless (standard tier): memory + 10% overhead must stay within 7424m per core
        for role, memory, cores in (
            ("driver", self.driver_memory, self.driver_cores),
            ("executor", self.executor_memory, self.executor_cores),
        ):
            mib = _mebibytes(memory)
            if mib is None:
                raise ValueError(f"{role}_memory {memory!r} is not a size such as 16g or 4096m")
            if mib * 1.1 > 7424 * cores:
                raise ValueError(f"{role}_memory {memory} is over 7424m per core (with 10% overhead) for {cores} cores")
        return self


def _mebibytes(size: str) -> float | None:
    """A Spark memory size (`512m`, `16g`, plain numbers in MiB) in MiB, or None when unreadable."""
    import re

    match = re.fullmatch(r"(\d+(?:\.\d+)?)([kmgt]?)b?", str(size).strip().lower())
    if not match:
        return None
    factor = {"k": 1 / 1024, "": 1, "m": 1, "g": 1024, "t": 1024 * 1024}[match.group(2)]
    return float(match.group(1)) * factor


class ClusterShape(_Model):
    """Dataproc cluster shape of a run profile."""

    master_machine_type: str
    worker_machine_type: str
    num_workers: int = Field(ge=2)
    max_secondary_workers: int = Field(0, ge=0)


class RunProfile(_Model):
    """Spark properties and Dataproc sizing for one data size."""

    name: str
    description: str
    data_size: str
    cost_per_hour_usd: float | None = None
    spark: dict[str, str] = Field(default_factory=dict)
    serverless: ServerlessShape | None = None
    cluster: ClusterShape | None = None

    @field_validator("spark", mode="before")
    @classmethod
    def _stringify(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {str(k): str(v).lower() if isinstance(v, bool) else str(v) for k, v in value.items()}
        return value


# ---------------------------------------------------------------- table contracts


class ColumnSpec(_Model):
    """One source column of an entity: logical type, required flag and silver name."""

    name: str
    type: Literal["string", "boolean", "integer", "decimal", "timestamp", "date", "enum"]
    required: bool = False
    values: tuple[str, ...] = ()
    normalize: Literal["email", "phone"] | None = None
    silver: str | None = None
    description: str | None = None

    @model_validator(mode="after")
    def _enum_values(self) -> ColumnSpec:
        if self.type == "enum" and not self.values:
            raise ValueError(f"column {self.name}: type enum needs a non-empty 'values' list")
        if self.type != "enum" and self.values:
            raise ValueError(f"column {self.name}: 'values' is only allowed with type enum")
        return self


class Expectation(_Model):
    """A row-level rule on the silver columns with the action taken on rows that fail it."""

    name: str
    rule: str  # Spark SQL boolean expression over silver column names; NULL counts as a pass
    columns: tuple[str, ...] = ()
    action: Literal["warn", "quarantine", "fail"] = "quarantine"
    description: str | None = None


class SilverSpec(_Model):
    """Options of an entity's silver table."""

    table: str | None = None
    check_location: bool = True
    # action of the built-in rules: a required value missing, an unparseable value, an unknown
    # enum value, an unknown location_id
    required_action: Literal["warn", "quarantine", "fail"] = "quarantine"
    parse_action: Literal["warn", "quarantine", "fail"] = "quarantine"
    enum_action: Literal["warn", "quarantine", "fail"] = "quarantine"
    location_action: Literal["warn", "quarantine", "fail"] = "quarantine"
    # action of the built-in `normalize` rule: an email or phone that is not valid (kept as null on warn)
    normalize_action: Literal["warn", "quarantine", "fail"] = "warn"
    # phones without `+`/`00`: national numbers of `phone_national_digits` digits get `+<code>`;
    # null = no default country (such numbers are kept as digits only)
    phone_country_code: str | None = Field("1", pattern=r"^[1-9]\d{0,2}$")
    phone_national_digits: int = Field(10, ge=4, le=14)
    # a derived key column placed first in silver: the merge key when present, else a stable key
    # from the lower-cased null_key_fallback columns (house_accounts: house_account_key)
    key_column: str | None = None
    # built-in `plausible` rule: timestamps and dates before `earliest` or more than `future_days`
    # after the run's start are not real (9999-12-31, 0001-01-01, a clock years ahead)
    earliest: date = date(2000, 1, 1)
    future_days: int = Field(1, ge=0)
    plausible_action: Literal["warn", "quarantine", "fail"] = "quarantine"


class TableSpec(_Model):
    """The contract of one entity: columns, merge key, null-key policy, silver options."""

    entity: str
    description: str | None = None
    merge_key: tuple[str, ...]
    sequence_column: str | None = None
    allow_null_merge_keys: bool = False
    null_key_fallback: tuple[str, ...] = ()
    columns: tuple[ColumnSpec, ...]
    silver: SilverSpec = SilverSpec()
    expectations: tuple[Expectation, ...] = ()

    @model_validator(mode="after")
    def _keys_are_columns(self) -> TableSpec:
        names = {c.name for c in self.columns}
        if len(names) != len(self.columns):
            raise ValueError("column names must be unique")
        for key in (*self.merge_key, *self.null_key_fallback):
            if key not in names:
                raise ValueError(f"key column {key!r} is not among the columns {sorted(names)}")
        if self.sequence_column and self.sequence_column not in names:
            raise ValueError(f"sequence_column {self.sequence_column!r} is not among the columns")
        if self.allow_null_merge_keys and not self.null_key_fallback:
            raise ValueError("allow_null_merge_keys: true needs a null_key_fallback list of columns")
        if not self.merge_key:
            raise ValueError("merge_key needs at least one column")
        return self

    @property
    def silver_table(self) -> str:
        """Name of the silver table (the entity unless overridden)."""
        return self.silver.table or self.entity

    def column(self, name: str) -> ColumnSpec:
        """The column spec named `name` (exact contract spelling)."""
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(name)


@dataclass(frozen=True)
class JobOptions:
    """What the command line says about where and how a job runs (lakehouse.runtime and the read-only
    commands take it; it lives here so that those need not import Spark)."""

    env: str | None = None
    profile: str | None = None
    landing: str | None = None
    warehouse: str | None = None
    conf_dir: str | None = None
    run_id: str | None = None
    table_format: str | None = None  # parquet | delta: overrides the environment's
    wait: bool = False  # wait for another job's warehouse lock instead of failing

    def overrides(self) -> dict[str, Any]:
        """The settings these options override (None: the environment's own value)."""
        return {"landing": self.landing, "warehouse": self.warehouse, "table_format": self.table_format}

    def load(self) -> Config:
        """The configuration these options select."""
        return load_config(env=self.env, profile=self.profile, conf_dir=self.conf_dir, overrides=self.overrides())


# ---------------------------------------------------------------- loading


def project_root() -> Path:
    """The checkout holding conf/ and run_profiles/: $LAKEHOUSE_HOME, the CWD, or the package's repo."""
    candidates = [os.environ.get("LAKEHOUSE_HOME"), os.getcwd(), Path(__file__).resolve().parents[2]]
    for cand in candidates:
        if cand and (Path(cand) / "conf" / "base.yaml").is_file():
            return Path(cand)
    return Path(os.getcwd())


def _read_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError(f"{path}: file not found")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{path}:{where} is not valid YAML ({getattr(exc, 'problem', exc)})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of keys at the top level, got {type(data).__name__}")
    return data


def _explain(path: Path, exc: ValidationError, data: dict[str, Any]) -> ConfigError:
    """Turn pydantic's first error into one line naming the file, the key and what is allowed."""
    err = exc.errors()[0]
    key = ".".join(str(p) for p in err["loc"]) or "(top level)"
    # point at a column by its name rather than its list index
    loc = list(err["loc"])
    if len(loc) >= 2 and loc[0] in ("columns", "expectations") and isinstance(loc[1], int):
        items = data.get(loc[0]) or []
        if loc[1] < len(items) and isinstance(items[loc[1]], dict) and "name" in items[loc[1]]:
            key = ".".join([str(loc[0]), str(items[loc[1]]["name"]), *map(str, loc[2:])])
    kind = err["type"]
    if kind == "extra_forbidden":
        return ConfigError(f"{path}: unknown key '{key}' (remove it or check its spelling)")
    if kind == "missing":
        return ConfigError(f"{path}: missing required key '{key}'")
    value = err.get("input")
    msg = err["msg"]
    if kind == "literal_error":
        expected = err.get("ctx", {}).get("expected", "")
        return ConfigError(f"{path}: key '{key}' has value {value!r}; allowed: {expected}")
    if kind == "value_error":
        msg = msg.removeprefix("Value error, ")
        return ConfigError(f"{path}: {'' if key == '(top level)' else f'key {key!r}: '}{msg}")
    return ConfigError(f"{path}: key '{key}' has value {value!r}: {msg}")


def _validate(model: type[_Model], data: dict[str, Any], path: Path) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise _explain(path, exc, data) from None


def _deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def load_settings(
    env: str | None = None,
    conf_dir: str | Path | None = None,
    overrides: dict[str, Any] | None = None,
) -> Settings:
    """Merge conf/base.yaml with conf/env/<env>.yaml and command-line overrides (None values ignored).

    `env` defaults to $LAKEHOUSE_ENV, then `local`.
    """
    env = env or os.environ.get("LAKEHOUSE_ENV") or "local"
    conf = Path(conf_dir) if conf_dir else project_root() / "conf"
    env_file = conf / "env" / f"{env}.yaml"
    if not env_file.is_file():
        known = sorted(p.stem for p in (conf / "env").glob("*.yaml"))
        raise ConfigError(f"{env_file}: no such environment {env!r}; choose one of {known}")
    merged = _deep_merge(_read_yaml(conf / "base.yaml"), _read_yaml(env_file))
    merged["env"] = env
    merged = _deep_merge(merged, {k: v for k, v in (overrides or {}).items() if v is not None})
    return _validate(Settings, merged, env_file)


def load_profile(name: str | None = None, profiles_dir: str | Path | None = None) -> RunProfile:
    """Read run_profiles/<name>.yaml; `name` defaults to $LAKEHOUSE_PROFILE, then `local`."""
    name = name or os.environ.get("LAKEHOUSE_PROFILE") or "local"
    folder = Path(profiles_dir) if profiles_dir else project_root() / "run_profiles"
    path = folder / f"{name}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in folder.glob("*.yaml"))
        raise ConfigError(f"{path}: no such run profile {name!r}; choose one of {known}")
    data = _read_yaml(path)
    profile = _validate(RunProfile, data, path)
    if profile.name != name:
        raise ConfigError(f"{path}: key 'name' is {profile.name!r} but the file is {name}.yaml; make them equal")
    return profile


def load_tables(conf_dir: str | Path | None = None) -> dict[str, TableSpec]:
    """Read every conf/tables/<entity>.yaml, keyed by entity, in file-name order."""
    folder = (Path(conf_dir) if conf_dir else project_root() / "conf") / "tables"
    specs: dict[str, TableSpec] = {}
    for path in sorted(folder.glob("*.yaml")):
        spec = _validate(TableSpec, _read_yaml(path), path)
        if spec.entity != path.stem:
            raise ConfigError(f"{path}: key 'entity' is {spec.entity!r} but the file is {path.name}; make them equal")
        specs[spec.entity] = spec
    if not specs:
        raise ConfigError(f"{folder}: no table contracts (*.yaml) found")
    return specs


@dataclass(frozen=True)
class Config:
    """Everything a job needs to know: settings, run profile and table contracts."""

    settings: Settings
    profile: RunProfile
    tables: dict[str, TableSpec] = field(default_factory=dict)
    conf_dir: Path | None = None


def load_config(
    env: str | None = None,
    profile: str | None = None,
    conf_dir: str | Path | None = None,
    profiles_dir: str | Path | None = None,
    overrides: dict[str, Any] | None = None,
) -> Config:
    """Load settings, run profile and table contracts in one go."""
    conf = Path(conf_dir) if conf_dir else project_root() / "conf"
    profiles = Path(profiles_dir) if profiles_dir else conf.parent / "run_profiles"
    settings = load_settings(env, conf, overrides)
    tables = load_tables(conf)
    unknown = sorted(set(settings.freshness.entities) - set(tables))
    if unknown:
        raise ConfigError(
            f"{conf / 'env' / f'{settings.env}.yaml'} (or base.yaml): key 'freshness.entities.{unknown[0]}' "
            f"is not an entity; choose one of {sorted(tables)}"
        )
    return Config(settings=settings, profile=load_profile(profile, profiles), tables=tables, conf_dir=conf)
