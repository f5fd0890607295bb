"""Custom checkov check: Dataproc must never run as the Compute Engine default service account."""

from __future__ import annotations

DEFAULT_COMPUTE_SA_SUFFIX = "-compute@developer.gserviceaccount.com"


def _first(value):
    """Checkov wraps attribute values in one-element lists; unwrap them."""
    while isinstance(value, list):
        if not value:
            return None
        value = value[0]
    return value


def service_account_of(conf: dict) -> str | None:
    """The service account a google_dataproc_cluster or google_dataproc_batch is configured with."""
    cluster_config = _first(conf.get("cluster_config"))
    if isinstance(cluster_config, dict):
        gce = _first(cluster_config.get("gce_cluster_config"))
        return _first(gce.get("service_account")) if isinstance(gce, dict) else None
    environment = _first(conf.get("environment_config"))
    if isinstance(environment, dict):
        execution = _first(environment.get("execution_config"))
        return _first(execution.get("service_account")) if isinstance(execution, dict) else None
    return None


def uses_dedicated_service_account(conf: dict) -> bool:
    """True when a service account is set and it is not the Compute Engine default one."""
    account = service_account_of(conf)
    if not isinstance(account, str) or not account.strip():
        return False
    return not account.strip().endswith(DEFAULT_COMPUTE_SA_SUFFIX)


try:
    from checkov.common.models.enums import CheckCategories, CheckResult
    from checkov.terraform.checks.resource.base_resource_check import BaseResourceCheck
except ImportError:  # imported by the pytest suite, which runs without checkov
    BaseResourceCheck = None

if BaseResourceCheck is not None:

    class DataprocDedicatedServiceAccount(BaseResourceCheck):
        """Fails a Dataproc cluster or batch without a service account or with the default compute one."""

        def __init__(self) -> None:
            super().__init__(
                name="Ensure Dataproc runs as a dedicated service account, not the Compute Engine default",
                id="CKV_LAKEHOUSE_1",
                categories=[CheckCategories.IAM],
                supported_resources=["google_dataproc_cluster", "google_dataproc_batch"],
            )

        def scan_resource_conf(self, conf):
            return CheckResult.PASSED if uses_dedicated_service_account(conf) else CheckResult.FAILED

    check = DataprocDedicatedServiceAccount()
