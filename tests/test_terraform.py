"""Offline checks of infra/terraform: the invariants the infrastructure issue asks for, on parsed HCL.

`terraform validate` needs the Google provider from the registry, so these tests parse the .tf
files with python-hcl2 instead; the few that run the terraform binary (fmt, console) or checkov
skip with a reason when it is missing.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
TF_DIR = ROOT / "infra" / "terraform"
MODULES_DIR = TF_DIR / "modules"
ENVS_DIR = TF_DIR / "envs"
ENVS = ("dev", "staging", "prod")
MODULES = ("bigquery", "dataproc", "iam", "storage")
CHECKOV = ROOT / ".venv-checkov" / "bin" / "checkov"


def _load(name: str, path: Path):
    """Import a helper script by path (infra/terraform is not a package)."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


gen_readme = _load("lakehouse_tf_gen_readme", TF_DIR / "gen_readme.py")
sa_check = _load("lakehouse_tf_dataproc_check", TF_DIR / "checks" / "dataproc_service_account.py")

TERRAFORM = shutil.which("terraform")
needs_terraform = pytest.mark.skipif(TERRAFORM is None, reason="terraform binary not on PATH")
needs_checkov = pytest.mark.skipif(
    not CHECKOV.exists(), reason="checkov not installed: run `make tf-tools` (creates .venv-checkov)"
)


# ---------------------------------------------------------------- helpers


def tf_files(*dirs: Path) -> list[Path]:
    """Every .tf file under the given folders (default: all of infra/terraform)."""
    roots = dirs or (TF_DIR,)
    return sorted(path for root in roots for path in root.rglob("*.tf") if ".terraform" not in path.parts)


def parsed(path: Path) -> dict:
    return gen_readme.load_tf(path)


def resources(path: Path):
    """(type, name, body) of every resource block in a file."""
    for entry in parsed(path).get("resource", []):
        for rtype, named in entry.items():
            for name, body in named.items():
                yield rtype, name, body


def all_resources(*dirs: Path):
    for path in tf_files(*dirs):
        for rtype, name, body in resources(path):
            yield path, rtype, name, body


def labelled(path: Path, kind: str) -> dict[str, dict]:
    return gen_readme.blocks(parsed(path), kind)


def module_locals(module: str) -> dict:
    found: dict = {}
    for path in tf_files(MODULES_DIR / module):
        for entry in parsed(path).get("locals", []):
            found.update(entry)
    return found


def walk_strings(value):
    if isinstance(value, dict):
        for item in value.values():
            yield from walk_strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from walk_strings(item)
    elif isinstance(value, str):
        yield value


def first(value):
    while isinstance(value, list):
        value = value[0]
    return value


def tfvars(env: str) -> dict:
    return parsed(ENVS_DIR / env / "terraform.tfvars")


def unwrap(expression: str) -> str:
    """`${x}` -> `x`."""
    match = re.fullmatch(r"\$\{(.*)\}", expression, flags=re.S)
    return match.group(1) if match else expression


def run_console(expression: str, cwd: Path) -> object:
    """Evaluate one expression with `terraform console` (no provider needed) and decode its JSON."""
    result = subprocess.run(
        [TERRAFORM, "console"],
        input=f"jsonencode({expression})\n",
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(json.loads(result.stdout.strip().splitlines()[-1]))


# ---------------------------------------------------------------- layout and style


def test_terraform_fmt_is_clean():
    if TERRAFORM is None:
        pytest.skip("terraform binary not on PATH")
    result = subprocess.run(
        [TERRAFORM, "fmt", "-check", "-recursive", "-diff", str(TF_DIR)], capture_output=True, text=True
    )
    assert result.returncode == 0, f"run `make tf-fmt`:\n{result.stdout}"


@pytest.mark.parametrize("module", MODULES)
def test_module_has_the_standard_files(module):
    folder = MODULES_DIR / module
    missing = [
        name
        for name in ("main.tf", "variables.tf", "outputs.tf", "versions.tf", "README.md")
        if not (folder / name).exists()
    ]
    assert missing == []


@pytest.mark.parametrize(
    "folder", [MODULES_DIR / m for m in MODULES] + [ENVS_DIR / e for e in ENVS], ids=lambda p: p.name
)
def test_google_provider_pinned_to_a_range(folder):
    terraform = parsed(folder / "versions.tf")["terraform"][0]
    google = first(terraform["required_providers"])["google"]
    assert google["source"] == "hashicorp/google"
    constraint = google["version"]
    assert re.search(r">=\s*\d", constraint) and re.search(r"<\s*\d", constraint), constraint


def test_readme_tables_are_generated_and_up_to_date():
    assert gen_readme.main(["--check"]) == 0, "run `make tf-readme`"
    for module in MODULES:
        text = (MODULES_DIR / module / "README.md").read_text()
        assert gen_readme.BEGIN in text and gen_readme.END in text
        for name in labelled(MODULES_DIR / module / "variables.tf", "variable"):
            assert f"| `{name}` |" in text


def test_readme_generator_renders_a_variable_and_an_output(tmp_path):
    module = tmp_path / "demo"
    module.mkdir()
    (module / "variables.tf").write_text(
        'variable "b" {\n  description = "Second, with a | pipe."\n  type = map(string)\n  default = {}\n}\n'
        'variable "a" {\n  description = "First <name>."\n  type = string\n}\n'
    )
    (module / "outputs.tf").write_text('output "x" {\n  description = "The x."\n  value = 1\n}\n')
    table = gen_readme.tables(module)
    assert "| `b` | Second, with a \\| pipe. | `map(string)` | `{}` | no |" in table
    assert "| `a` | First &lt;name&gt;. | `string` |  | yes |" in table
    assert "| `x` | The x. |" in table
    readme = "# demo\n\nHand-written.\n"
    assert gen_readme.render(gen_readme.render(readme, table), table) == gen_readme.render(readme, table)


@pytest.mark.parametrize("path", tf_files(MODULES_DIR, ENVS_DIR), ids=lambda p: str(p.relative_to(TF_DIR)))
def test_every_variable_is_typed_and_described(path):
    for name, spec in labelled(path, "variable").items():
        assert "type" in spec, f"{path.name}: variable {name} has no type"
        assert spec.get("description", "").strip(), f"{path.name}: variable {name} has no description"


@pytest.mark.parametrize("path", tf_files(MODULES_DIR, ENVS_DIR), ids=lambda p: str(p.relative_to(TF_DIR)))
def test_variables_and_outputs_are_alphabetical(path):
    for kind in ("variable", "output"):
        names = list(labelled(path, kind))
        assert names == sorted(names), f"{path.name}: {kind}s out of order"


def test_every_output_is_described():
    for path in tf_files(MODULES_DIR, ENVS_DIR):
        for name, spec in labelled(path, "output").items():
            assert spec.get("description", "").strip(), f"{path}: output {name}"


@pytest.mark.parametrize("module", ("bigquery", "dataproc", "iam", "storage"))
def test_prefix_is_validated(module):
    spec = labelled(MODULES_DIR / module / "variables.tf", "variable")["prefix"]
    condition = spec["validation"][0]["condition"]
    pattern = re.search(r'regex\("([^"]+)"', condition).group(1).replace("\\\\", "\\")
    assert re.match(pattern, "lakehouse") and re.match(pattern, "lh-2")
    for bad in ("Lakehouse", "-lake", "lake_house", "a", "a-very-long-prefix-x"):
        assert not re.match(pattern, bad), bad


def test_checkov_skips_carry_a_reason():
    skips = []
    for path in tf_files():
        for line in path.read_text().splitlines():
            if "checkov:skip" in line:
                skips.append(line)
                assert re.search(r"checkov:skip=CKV\w*_\d+:\s*\S.{15,}", line), (
                    f"{path}: skip without reason: {line.strip()}"
                )
    assert skips, "expected the documented skips (CKV_GCP_62/78/80/81)"


# ---------------------------------------------------------------- buckets


def test_every_bucket_has_uniform_access_and_enforced_public_access_prevention():
    buckets = [
        (path, name, body) for path, rtype, name, body in all_resources() if rtype == "google_storage_bucket"
    ]
    assert buckets
    for path, name, body in buckets:
        assert body.get("uniform_bucket_level_access") is True, f"{path}: {name}"
        assert body.get("public_access_prevention") == "enforced", f"{path}: {name}"
        assert body.get("force_destroy", False) is False, f"{path}: {name}"


def test_data_buckets_are_versioned_and_scratch_buckets_expire():
    storage = {
        name: body
        for _, rtype, name, body in all_resources(MODULES_DIR / "storage")
        if rtype == "google_storage_bucket"
    }
    local = module_locals("storage")
    assert set(local["data_buckets"]) == {"bronze", "gold", "landing", "silver", "warehouse"}
    assert set(local["scratch_buckets"]) == {"staging", "temp"}
    assert storage["data"]["for_each"] == "${local.data_buckets}"
    assert storage["scratch"]["for_each"] == "${local.scratch_buckets}"
    assert storage["data"]["versioning"][0]["enabled"] is True
    delete_rules = [
        rule for rule in storage["scratch"]["lifecycle_rule"] if rule["action"][0]["type"] == "Delete"
    ]
    assert delete_rules and delete_rules[0]["condition"][0]["age"] == "${each.value.expire_days}"
    noncurrent = [
        rule
        for rule in storage["data"]["lifecycle_rule"]
        if "days_since_noncurrent_time" in rule["condition"][0]
    ]
    assert noncurrent, "versioned buckets need a rule deleting old noncurrent versions"


def test_bucket_names_cover_every_bucket_the_jobs_expect():
    local = module_locals("storage")
    keys = set(local["data_buckets"]) | set(local["scratch_buckets"])
    for env in ENVS:
        conf = yaml.safe_load((ROOT / "conf" / "env" / f"{env}.yaml").read_text())
        wanted = {conf["landing"], conf["warehouse"], *conf["layer_roots"].values()}
        wanted |= {f"gs://{conf['dataproc']['staging_bucket']}", f"gs://{conf['dataproc']['temp_bucket']}"}
        made = {f"gs://lakehouse-{env}-{key}" for key in keys}
        assert wanted <= made, f"conf/env/{env}.yaml names buckets Terraform does not create: {wanted - made}"


def test_cmek_key_is_granted_to_the_storage_agent_before_use():
    kms = {(rtype, name): body for _, rtype, name, body in all_resources(MODULES_DIR / "storage")}
    grant = kms[("google_kms_crypto_key_iam_member", "main")]
    assert grant["role"] == "roles/cloudkms.cryptoKeyEncrypterDecrypter"
    assert "google_storage_project_service_account" in grant["member"]
    for name in ("data", "scratch"):
        assert (
            "${google_kms_crypto_key_iam_member.main}"
            in kms[("google_storage_bucket", name)]["depends_on"]
        )
    key = kms[("google_kms_crypto_key", "main")]
    assert key["lifecycle"][0]["prevent_destroy"] is True and key["rotation_period"]


# ---------------------------------------------------------------- IAM


def test_no_primitive_roles_anywhere():
    pattern = re.compile(r"roles/(owner|editor|viewer)\b")
    for path in tf_files() + sorted(TF_DIR.rglob("*.tfvars")):
        assert not pattern.search(path.read_text()), f"{path}: primitive role"


def test_iam_is_additive_only():
    for path, rtype, name, _ in all_resources():
        assert not re.search(r"_iam_(binding|policy)$", rtype), f"{path}: {rtype}.{name} is authoritative"
        assert rtype != "google_project_iam_audit_config", f"{path}: {rtype}.{name}"


def test_no_public_principals_in_resources_or_tfvars():
    public = ("allUsers", "allAuthenticatedUsers")
    for path, rtype, name, body in all_resources():
        for text in walk_strings(body):
            assert not any(p in text for p in public), f"{path}: {rtype}.{name}"
    for env in ENVS:
        text = (ENVS_DIR / env / "terraform.tfvars").read_text()
        assert not any(p in text for p in public), env


@pytest.mark.parametrize("variable", ("clients", "deployer_impersonators"))
def test_member_variables_refuse_public_principals(variable):
    spec = labelled(MODULES_DIR / "iam" / "variables.tf", "variable")[variable]
    condition = spec["validation"][0]["condition"]
    pattern = re.search(r'regex\("([^"]+)"', condition).group(1).replace("\\\\", "\\")
    assert re.match(pattern, "group:finance@example.com")
    assert re.match(pattern, "serviceAccount:ci@ci.iam.gserviceaccount.com")
    for bad in ("allUsers", "allAuthenticatedUsers", "finance@example.com"):
        assert not re.match(pattern, bad), bad


def test_job_service_account_grants():
    iam = {(rtype, name): body for _, rtype, name, body in all_resources(MODULES_DIR / "iam")}
    assert iam[("google_project_iam_member", "job_worker")]["role"] == "roles/dataproc.worker"
    roles = labelled(MODULES_DIR / "iam" / "variables.tf", "variable")["job_bucket_roles"]["default"]
    assert roles == {
        "bronze": "roles/storage.objectAdmin",
        "gold": "roles/storage.objectAdmin",
        "landing": "roles/storage.objectViewer",
        "silver": "roles/storage.objectAdmin",
        "staging": "roles/storage.objectViewer",
        "temp": "roles/storage.objectAdmin",
        "warehouse": "roles/storage.objectAdmin",
    }
    storage = module_locals("storage")
    assert set(roles) == set(storage["data_buckets"]) | set(storage["scratch_buckets"])
    bucket_grant = iam[("google_storage_bucket_iam_member", "job")]
    assert bucket_grant["for_each"] == "${var.job_bucket_roles}"
    driver_output = iam[("google_storage_bucket_iam_member", "job_driver_output")]
    assert "objects/google-cloud-dataproc-metainfo/" in driver_output["condition"][0]["expression"]
    # every project-level grant is one of these few roles
    project_roles = {body["role"] for (rtype, _), body in iam.items() if rtype == "google_project_iam_member"}
    assert project_roles == {
        "roles/dataproc.worker",
        "${google_project_iam_custom_role.main.name}",
        "roles/bigquery.jobUser",
    }


def test_clients_get_bigquery_read_on_the_views_dataset_only():
    iam = {(rtype, name): body for _, rtype, name, body in all_resources(MODULES_DIR / "iam")}
    client_grants = {key: body for key, body in iam.items() if body.get("for_each") == "${var.clients}"}
    assert set(client_grants) == {
        ("google_bigquery_dataset_iam_member", "clients"),
        ("google_project_iam_member", "clients_job_user"),
    }
    dataset = client_grants[("google_bigquery_dataset_iam_member", "clients")]
    assert (
        dataset["role"] == "roles/bigquery.dataViewer" and dataset["dataset_id"] == "${var.views_dataset_id}"
    )
    assert (
        client_grants[("google_project_iam_member", "clients_job_user")]["role"] == "roles/bigquery.jobUser"
    )
    root = parsed(ENVS_DIR / "dev" / "main.tf")
    iam_call = gen_readme.blocks(root, "module")["iam"]
    assert iam_call["views_dataset_id"] == "${module.bigquery.views_dataset_id}"


def test_deployer_can_submit_without_broad_roles():
    iam = {(rtype, name): body for _, rtype, name, body in all_resources(MODULES_DIR / "iam")}
    role = iam[("google_project_iam_custom_role", "main")]
    assert "dataproc.batches.create" in role["permissions"] and "dataproc.jobs.create" in role["permissions"]
    assert not any(
        p.startswith(("dataproc.clusters.create", "dataproc.clusters.delete", "resourcemanager."))
        for p in role["permissions"]
    )
    act_as = iam[("google_service_account_iam_member", "deployer_act_as_job")]
    assert act_as["role"] == "roles/iam.serviceAccountUser"
    assert act_as["service_account_id"] == "${var.job_service_account_id}"


# ---------------------------------------------------------------- Dataproc


def test_no_default_compute_service_account_anywhere():
    for path, rtype, name, body in all_resources():
        for text in walk_strings(body):
            assert "developer.gserviceaccount.com" not in text, f"{path}: {rtype}.{name}"
    clusters = [
        (path, body)
        for path, rtype, _, body in all_resources()
        if rtype in ("google_dataproc_cluster", "google_dataproc_batch")
    ]
    assert clusters
    for path, body in clusters:
        account = sa_check.service_account_of(body)
        assert account and account.startswith("${google_service_account."), f"{path}: {account}"


def test_custom_check_logic():
    def cluster(account):
        gce = {} if account is None else {"service_account": [account]}
        return {"cluster_config": [{"gce_cluster_config": [gce]}]}

    assert sa_check.uses_dedicated_service_account(
        cluster("lakehouse-jobs@lakehouse-dev.iam.gserviceaccount.com")
    )
    assert not sa_check.uses_dedicated_service_account(cluster(None))
    assert not sa_check.uses_dedicated_service_account(cluster(""))
    assert not sa_check.uses_dedicated_service_account(
        cluster("123456-compute@developer.gserviceaccount.com")
    )
    assert not sa_check.uses_dedicated_service_account({"cluster_config": [{}]})
    batch = {
        "environment_config": [
            {"execution_config": [{"service_account": ["jobs@p.iam.gserviceaccount.com"]}]}
        ]
    }
    assert sa_check.uses_dedicated_service_account(batch)


@needs_checkov
def test_custom_check_fails_a_cluster_on_the_default_service_account(tmp_path):
    (tmp_path / "main.tf").write_text(
        'resource "google_dataproc_cluster" "default_sa" {\n  name = "a"\n  region = "europe-west1"\n'
        "  cluster_config {\n    gce_cluster_config {\n      internal_ip_only = true\n    }\n  }\n}\n"
        'resource "google_dataproc_cluster" "compute_sa" {\n  name = "b"\n  region = "europe-west1"\n'
        "  cluster_config {\n    gce_cluster_config {\n"
        '      service_account = "42-compute@developer.gserviceaccount.com"\n    }\n  }\n}\n'
        'resource "google_dataproc_cluster" "dedicated" {\n  name = "c"\n  region = "europe-west1"\n'
        "  cluster_config {\n    gce_cluster_config {\n"
        '      service_account = "jobs@p.iam.gserviceaccount.com"\n    }\n  }\n}\n'
    )
    result = subprocess.run(
        [
            str(CHECKOV),
            "-d",
            str(tmp_path),
            "--framework",
            "terraform",
            "--external-checks-dir",
            str(TF_DIR / "checks"),
            "--check",
            "CKV_LAKEHOUSE_1",
            "--skip-download",
            "-o",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "LOG_LEVEL": "ERROR"},
    )
    report = json.loads(result.stdout)
    failed = sorted(check["resource"] for check in report["results"]["failed_checks"])
    passed = sorted(check["resource"] for check in report["results"]["passed_checks"])
    assert failed == ["google_dataproc_cluster.compute_sa", "google_dataproc_cluster.default_sa"]
    assert passed == ["google_dataproc_cluster.dedicated"]


def test_cluster_runs_spark_35_with_delta_privately():
    dataproc = {(rtype, name): body for _, rtype, name, body in all_resources(MODULES_DIR / "dataproc")}
    config = dataproc[("google_dataproc_cluster", "main")]["cluster_config"][0]
    assert config["software_config"][0]["optional_components"] == ["DELTA"]
    assert config["gce_cluster_config"][0]["internal_ip_only"] is True
    assert (
        config["autoscaling_config"][0]["policy_uri"] == "${google_dataproc_autoscaling_policy.main[0].name}"
    )
    cluster_type = labelled(MODULES_DIR / "dataproc" / "variables.tf", "variable")["cluster"]["type"]
    assert re.search(r'image_version\s*=\s*optional\(string,\s*"2\.2-', cluster_type), cluster_type
    subnet = dataproc[("google_compute_subnetwork", "main")]
    assert subnet["private_ip_google_access"] is True
    assert subnet["name"] == "${var.prefix}-dataproc"


# ---------------------------------------------------------------- for_each / count


def _map_typed_variables(folder: Path) -> set[str]:
    names = set()
    for name, spec in labelled(folder / "variables.tf", "variable").items():
        if unwrap(str(spec.get("type", ""))).startswith("map("):
            names.add(name)
    return names


def _map_locals(folder: Path) -> set[str]:
    names = set()
    for path in tf_files(folder):
        for entry in parsed(path).get("locals", []):
            for name, value in entry.items():
                expression = unwrap(value) if isinstance(value, str) else ""
                map_for = re.search(r"\{\s*for\s.+=>", expression, flags=re.S)
                map_toggle = re.fullmatch(r".+\?\s*\{.*\}\s*:\s*\{\s*\}", expression, flags=re.S)
                if isinstance(value, dict) or map_for or map_toggle:
                    names.add(name)
    return names


@pytest.mark.parametrize(
    "folder", [MODULES_DIR / m for m in MODULES] + [ENVS_DIR / "dev"], ids=lambda p: p.name
)
def test_for_each_iterates_maps_with_stable_keys(folder):
    maps = {f"var.{n}" for n in _map_typed_variables(folder)} | {f"local.{n}" for n in _map_locals(folder)}
    seen = 0
    for path in tf_files(folder):
        tree = parsed(path)
        for kind in ("resource", "data"):
            for entry in tree.get(kind, []):
                for rtype, named in entry.items():
                    for name, body in named.items():
                        if "for_each" in body:
                            seen += 1
                            expression = unwrap(body["for_each"])
                            assert expression in maps, (
                                f"{path.name}: {rtype}.{name} for_each = {expression} is not a map"
                            )
                        if "count" in body:
                            assert re.fullmatch(
                                r".+\?\s*(1\s*:\s*0|0\s*:\s*1)", unwrap(str(body["count"]))
                            ), f"{path.name}: {rtype}.{name} count must be an on/off toggle"
                        assert "count.index" not in json.dumps(body), f"{path.name}: {rtype}.{name}"
        for text in walk_strings(tree):
            assert "toset(" not in text and "range(" not in text, f"{path.name}: list-derived keys"
    if folder.name != "dataproc":
        assert seen, f"{folder.name}: expected for_each resources"


# ---------------------------------------------------------------- environments


def test_envs_differ_only_in_tfvars_and_backend():
    per_env = {
        e: {
            p.relative_to(ENVS_DIR / e): p
            for p in (ENVS_DIR / e).rglob("*")
            if p.is_file() and ".terraform" not in p.parts
        }
        for e in ENVS
    }
    names = {e: set(files) for e, files in per_env.items()}
    assert names["dev"] == names["staging"] == names["prod"]
    assert {Path("terraform.tfvars"), Path("backend.hcl"), Path("main.tf"), Path("variables.tf")} <= names[
        "dev"
    ]
    # provider lock files may be refreshed one env at a time
    for rel in names["dev"] - {Path("terraform.tfvars"), Path("backend.hcl"), Path(".terraform.lock.hcl")}:
        contents = {per_env[e][rel].read_bytes() for e in ENVS}
        assert len(contents) == 1, f"envs/*/{rel} differs between environments: edit all three"


@pytest.mark.parametrize("env", ENVS)
def test_env_backend_is_a_gcs_bucket_per_env(env):
    terraform = parsed(ENVS_DIR / env / "versions.tf")["terraform"][0]
    assert "gcs" in first(terraform["backend"])
    backend = parsed(ENVS_DIR / env / "backend.hcl")
    assert backend["bucket"] == f"lakehouse-{env}-tfstate"
    assert backend["prefix"]


@pytest.mark.parametrize("env", ENVS)
def test_env_names_match_conf_env(env):
    """Names Terraform gives resources are the ones conf/env/<env>.yaml hands to the jobs."""
    conf = yaml.safe_load((ROOT / "conf" / "env" / f"{env}.yaml").read_text())
    values = tfvars(env)
    prefix = labelled(ENVS_DIR / env / "variables.tf", "variable")["prefix"]["default"]
    project, region = values["project_id"], values.get("region", "europe-west1")
    assert values["env"] == env and project == conf["gcp_project"] and region == conf["region"]
    # the naming conventions as written in the modules
    assert {
        n: b["name"] for _, t, n, b in all_resources(MODULES_DIR / "storage") if t == "google_storage_bucket"
    } == {
        "data": "${var.prefix}-${var.env}-${each.key}",
        "scratch": "${var.prefix}-${var.env}-${each.key}",
    }
    dataproc = {(t, n): b for _, t, n, b in all_resources(MODULES_DIR / "dataproc")}
    assert dataproc[("google_service_account", "main")]["account_id"] == "${var.prefix}-jobs"
    bigquery = {(t, n): b for _, t, n, b in all_resources(MODULES_DIR / "bigquery")}
    assert (
        bigquery[("google_bigquery_dataset", "views")]["dataset_id"]
        == "${local.dataset_prefix}_client_${var.env}"
    )
    # ... applied to this env
    dp = conf["dataproc"]
    assert dp["staging_bucket"] == f"{prefix}-{env}-staging" and dp["temp_bucket"] == f"{prefix}-{env}-temp"
    assert dp["service_account"] == f"{prefix}-jobs@{project}.iam.gserviceaccount.com"
    assert dp["subnetwork"] == f"projects/{project}/regions/{region}/subnetworks/{prefix}-dataproc"
    assert conf["bigquery_dataset"] == f"{prefix.replace('-', '_')}_client_{env}"
    assert conf["table_format"] == "delta"
    assert dp["runtime_version"] == "2.2"


def test_prod_uses_cmek():
    assert tfvars("prod")["create_kms_key"] is True


def test_root_wires_the_job_service_account_and_buckets_from_the_modules():
    calls = gen_readme.blocks(parsed(ENVS_DIR / "dev" / "main.tf"), "module")
    assert set(calls) == {"bigquery", "dataproc", "iam", "storage"}
    assert calls["dataproc"]["staging_bucket"] == '${module.storage.buckets["staging"]}'
    assert calls["iam"]["job_service_account_member"] == "${module.dataproc.service_account_member}"
    assert calls["bigquery"]["gold_bucket"] == '${module.storage.buckets["gold"]}'


# ---------------------------------------------------------------- client views


def _views_expression(views_dir: Path) -> str:
    """The bigquery module's `views` local, with its inputs replaced by literals."""
    expression = unwrap(module_locals("bigquery")["views"])
    expression = expression.replace("var.views_dir", json.dumps(str(views_dir)))
    return expression.replace(
        "local.view_vars", '{ dataset = "lakehouse_gold_dev", project = "lakehouse-dev" }'
    )


@needs_terraform
def test_views_are_read_from_sql_files_with_project_and_dataset_substituted(tmp_path):
    views = tmp_path / "views"
    views.mkdir()
    (views / "churn_by_location.sql").write_text(
        "SELECT location_id, churn_rate\nFROM `${project}.${dataset}.churn_retention`\n"
    )
    (views / "bottom_locations.sql").write_text(
        "SELECT * FROM `${project}.${dataset}.location_scorecard_bottom` WHERE note != '$${literal}'\n"
    )
    (views / "README.md").write_text("not a view\n")
    rendered = run_console(_views_expression(views), tmp_path)
    assert rendered == {
        "bottom_locations": "SELECT * FROM `lakehouse-dev.lakehouse_gold_dev.location_scorecard_bottom` WHERE note != '${literal}'\n",
        "churn_by_location": "SELECT location_id, churn_rate\nFROM `lakehouse-dev.lakehouse_gold_dev.churn_retention`\n",
    }


@needs_terraform
def test_no_views_dir_or_an_empty_one_creates_no_views(tmp_path):
    assert run_console(_views_expression(tmp_path / "missing"), tmp_path) == {}
    expression = unwrap(module_locals("bigquery")["views"]).replace("var.views_dir", "null")
    assert run_console(expression.replace("local.view_vars", "{}"), tmp_path) == {}


def test_external_tables_cover_the_gold_tables_as_delta():
    spec = labelled(MODULES_DIR / "bigquery" / "variables.tf", "variable")
    assert set(spec["tables"]["default"]) == {
        "billing_health",
        "churn_retention",
        "churn_risk",
        "location_scorecard",
        "location_scorecard_bottom",
        "model_metrics",
    }
    assert spec["source_format"]["default"] == "DELTA_LAKE"
    bigquery = {(t, n): b for _, t, n, b in all_resources(MODULES_DIR / "bigquery")}
    external = bigquery[("google_bigquery_table", "gold")]["external_data_configuration"][0]
    assert external["connection_id"] == "${google_bigquery_connection.main.name}"
    assert external["autodetect"] is True
    access = bigquery[("google_bigquery_dataset_access", "main")]
    assert access["dataset_id"] == "${google_bigquery_dataset.gold.dataset_id}"
    assert access["dataset"][0]["target_types"] == ["VIEWS"]


@needs_terraform
def test_gold_table_uris_point_at_the_table_roots(tmp_path):
    expression = unwrap(module_locals("bigquery")["source_uris"])
    tables = '{ churn_risk = { path = null }, model_metrics = { path = "ml/model_metrics" } }'
    for source_format, suffix in (("DELTA_LAKE", "/"), ("PARQUET", "/*")):
        literal = (
            expression.replace("var.tables", tables)
            .replace("var.source_format", json.dumps(source_format))
            .replace("var.gold_bucket", '"lakehouse-dev-gold"')
        )
        assert run_console(literal, tmp_path) == {
            "churn_risk": f"gs://lakehouse-dev-gold/churn_risk{suffix}",
            "model_metrics": f"gs://lakehouse-dev-gold/ml/model_metrics{suffix}",
        }


def test_make_fragment_defines_the_targets():
    make = shutil.which("make")
    text = (TF_DIR / "terraform.mk").read_text()
    for target in (
        "tf-tools",
        "tf-fmt",
        "tf-check",
        "tf-validate",
        "tf-plan",
        "tf-apply",
        "tf-readme",
        "tf-bootstrap",
    ):
        assert re.search(rf"^{target}:", text, flags=re.M), target
    if make is None:
        pytest.skip("make not on PATH")
    # a clean environment: a parent `make -j` must not make these runs parallel or dry
    env = {
        k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES")
    }
    mk = ["-f", str(TF_DIR / "terraform.mk")]
    result = subprocess.run(
        [make, "-n", *mk, "tf-plan", "ENV=dev"], cwd=ROOT, capture_output=True, text=True, env=env
    )
    assert result.returncode == 0, result.stderr
    assert "-chdir=infra/terraform/envs/dev init -input=false -backend-config=backend.hcl" in result.stdout
    assert "views export --dialect bigquery" in result.stdout
    # the guard alone runs (tf-bootstrap's only prerequisite), so nothing reaches gcloud
    bad = subprocess.run(
        [make, *mk, "tf-bootstrap", "ENV=qa"], cwd=ROOT, capture_output=True, text=True, env=env
    )
    assert bad.returncode != 0 and "ENV must be one of" in bad.stderr
