"""The fixed table names of the contract (`lakehouse.contract` re-exports them with the schemas), importable without Spark."""

BRONZE, SILVER, GOLD, QUARANTINE, OPS = "bronze", "silver", "gold", "quarantine", "ops"

RUN_LOG = "ops.run_log"
RUNNING, SUCCEEDED, FAILED = "running", "succeeded", "failed"  # a run's status in the run log
DQ_RESULTS = "ops.dq_results"
BRONZE_MANIFEST = "ops.bronze_manifest"
SOURCE_FRESHNESS = "ops.source_freshness"
ALERTS = "ops.alerts"
BRONZE_FILES = "quarantine.bronze_files"

CHURN_RETENTION = "gold.churn_retention"
BILLING_HEALTH = "gold.billing_health"
LOCATION_SCORECARD = "gold.location_scorecard"
LOCATION_SCORECARD_BOTTOM = "gold.location_scorecard_bottom"
CHURN_RISK = "gold.churn_risk"
MODEL_METRICS = "gold.model_metrics"
GOLD_KPIS = (CHURN_RETENTION, BILLING_HEALTH, LOCATION_SCORECARD, LOCATION_SCORECARD_BOTTOM)

LOCATIONS_ENTITY = "locations"  # the entity every other one's location_id refers to
LOCATION_COLUMN = "location_id"
