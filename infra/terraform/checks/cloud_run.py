"""Custom checkov checks for Cloud Run v2: a dedicated service account, and no public invokers."""

from __future__ import annotations

DEFAULT_COMPUTE_SA_SUFFIX = "-compute@developer.gserviceaccount.com"
PUBLIC_PRINCIPALS = ("allUsers", "allAuthenticatedUsers")


def _first(value):
    """Checkov wraps attribute values in one-element lists; unwrap them."""
    while isinstance(value, list):
        if not value:
            return None
        value = value[0]
    return value


def service_account_of(conf: dict) -> str | None:
    """The service account a google_cloud_run_v2_service's template runs as (None when unset)."""
    template = _first(conf.get("template"))
    if not isinstance(template, dict):
        return None
    account = _first(template.get("service_account"))
    return account if isinstance(account, str) else None


def runs_as_dedicated_service_account(conf: dict) -> bool:
    """True when the service sets a service account that is not the Compute Engine default one."""
    account = service_account_of(conf)
    return bool(account and account.strip()) and not account.strip().endswith(DEFAULT_COMPUTE_SA_SUFFIX)


def members_of(conf: dict) -> list[str]:
    """The principals an *_iam_member (member) or *_iam_binding (members) grants."""
    found = []
    member = _first(conf.get("member"))
    if isinstance(member, str):
        found.append(member)
    members = conf.get("members")
    if isinstance(members, list) and len(members) == 1 and isinstance(members[0], list):
        members = members[0]  # checkov's wrapping of a list attribute
    if isinstance(members, list):
        found += [m for m in members if isinstance(m, str)]
    return found


def is_public(conf: dict) -> bool:
    """True when the grant names allUsers or allAuthenticatedUsers."""
    return any(member.strip() in PUBLIC_PRINCIPALS for member in members_of(conf))


try:
    from checkov.common.models.enums import CheckCategories, CheckResult
    from checkov.terraform.checks.resource.base_resource_check import BaseResourceCheck
except ImportError:  # imported by the pytest suite, which runs without checkov
    BaseResourceCheck = None

if BaseResourceCheck is not None:

    class CloudRunDedicatedServiceAccount(BaseResourceCheck):
        """Fails a Cloud Run v2 service without a service account or with the default compute one."""

        def __init__(self) -> None:
            super().__init__(
                name="Ensure a Cloud Run service runs as a dedicated service account, not the Compute Engine default",
                id="CKV_LAKEHOUSE_2",
                categories=[CheckCategories.IAM],
                supported_resources=["google_cloud_run_v2_service"],
            )

        def scan_resource_conf(self, conf):
            return CheckResult.PASSED if runs_as_dedicated_service_account(conf) else CheckResult.FAILED

    class CloudRunNotPublic(BaseResourceCheck):
        """Fails a grant on a Cloud Run v2 service to allUsers or allAuthenticatedUsers."""

        def __init__(self) -> None:
            super().__init__(
                name="Ensure a Cloud Run v2 service is not invokable by allUsers or allAuthenticatedUsers",
                id="CKV_LAKEHOUSE_3",
                categories=[CheckCategories.GENERAL_SECURITY],
                supported_resources=[
                    "google_cloud_run_v2_service_iam_member",
                    "google_cloud_run_v2_service_iam_binding",
                ],
            )

        def scan_resource_conf(self, conf):
            return CheckResult.FAILED if is_public(conf) else CheckResult.PASSED

    dedicated_service_account = CloudRunDedicatedServiceAccount()
    not_public = CloudRunNotPublic()
