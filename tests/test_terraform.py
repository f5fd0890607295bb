"""Offline checks of infra/terraform: the invariants the infrastructure issues ask for, on parsed HCL.

`terraform validate` needs the Google provider from the registry, so these tests parse the .tf
files with python-hcl2 instead; the ones that evaluate expressions run `terraform console` (no
provider needed) and, like the checkov ones, skip with a reason when the binary is missing.
`make tf-check` passes the terraform it uses (built from the Go module proxy when none is on PATH)
as $TERRAFORM.
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
MODULES = ("bigquery", "dataproc", "deployer", "monitoring", "project", "schedule", "serving", "storage")
CHECKOV = ROOT / ".venv-checkov" / "bin" / "checkov"
ALERT_MARKER = "LAKEHOUSE_ALERT severity=error"


def _load(name: str, path: Path):
    """Import a helper script by path (infra/terraform is not a package)."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


gen_readme = _load("lakehouse_tf_gen_readme", TF_DIR / "gen_readme.py")
sa_check = _load("lakehouse_tf_dataproc_check", TF_DIR / "checks" / "dataproc_service_account.py")
run_check = _load("lakehouse_tf_cloud_run_check", TF_DIR / "checks" / "cloud_run.py")


def _terraform() -> str | None:
    """$TERRAFORM (set by `make tf-check`), terraform on PATH, or the one `make tf-tools` built."""
    for candidate in (
        os.environ.get("TERRAFORM"),
        shutil.which("terraform"),
        TF_DIR / ".tools" / "bin" / "terraform",
    ):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return None


TERRAFORM = _terraform()
needs_terraform = pytest.mark.skipif(TERRAFORM is None, reason="no terraform binary: run `make tf-tools`")
needs_checkov = pytest.mark.skipif(
    not CHECKOV.exists(), reason="checkov not installed: run `make tf-tools` (creates .venv-checkov)"
)


# ---------------------------------------------------------------- helpers


def tf_files(*dirs: Path) -> list[Path]:
    """Every .tf file under the given folders (default: all of infra/terraform)."""
    roots = dirs or (TF_DIR,)
    return sorted(path for root in roots for path in root.rglob("*.tf") if ".terraform" not in path.parts)


def root_files() -> list[Path]:
    """The root module's own .tf files (not its modules')."""
    return sorted(TF_DIR.glob("*.tf"))


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


def module_resources(module: str) -> dict[tuple[str, str], dict]:
    return {(rtype, name): body for _, rtype, name, body in all_resources(MODULES_DIR / module)}


def labelled(path: Path, kind: str) -> dict[str, dict]:
    return gen_readme.blocks(parsed(path), kind)


def _locals(paths) -> dict:
    found: dict = {}
    for path in paths:
        for entry in parsed(path).get("locals", []):
            found.update(entry)
    return found


def module_locals(module: str) -> dict:
    return _locals(tf_files(MODULES_DIR / module))


def root_locals() -> dict:
    return _locals(root_files())


def root_calls() -> dict[str, dict]:
    return gen_readme.blocks(parsed(TF_DIR / "main.tf"), "module")


def root_variables() -> dict[str, dict]:
    return labelled(TF_DIR / "variables.tf", "variable")


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
    return parsed(ENVS_DIR / f"{env}.tfvars")


def unwrap(expression: str) -> str:
    """`${x}` -> `x`."""
    match = re.fullmatch(r"\$\{(.*)\}", expression, flags=re.S)
    return match.group(1) if match else expression


def substitute(expression: str, values: dict[str, str]) -> str:
    """Replace references (`var.x`, `local.y`) by HCL expressions, whole names only."""
    for name, value in values.items():
        replacement = f"({value})"
        expression = re.sub(rf"(?<![\w.]){re.escape(name)}(?![\w])", lambda _, r=replacement: r, expression)
    return expression


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


def hcl(value) -> str:
    """An expression as parsed (a `${...}` string, or an object of them) back as HCL text."""
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{key} = {hcl(item)}" for key, item in value.items()) + " }"
    if isinstance(value, str) and not re.fullmatch(r"\$\{.*\}", value, flags=re.S):
        return json.dumps(value)  # a string literal (its ${...} interpolations stay)
    return unwrap(value)


def regex_of(condition: str) -> str:
    """The pattern of the first regex("...") in a validation condition, as Python reads it."""
    return re.search(r'regex\("([^"]+)"', condition).group(1).replace("\\\\", "\\")


def bindings_of(member: str) -> set[tuple[str, str, str]]:
    """(root local, key, role) of every literal grant in the root's iam.tf to `member`."""
    found = set()
    for local_name, value in root_locals().items():
        if not isinstance(value, dict):
            continue
        for key, binding in value.items():
            if isinstance(binding, dict) and binding.get("member") == member:
                found.add((local_name, key, binding["role"]))
    return found


def literal_members_of_for_expressions() -> dict[str, str]:
    """The root locals built with a `for` expression (grants to clients, the jobs per bucket)."""
    return {
        name: unwrap(value)
        for name, value in root_locals().items()
        if isinstance(value, str) and re.match(r"\{\s*for\s", unwrap(value))
    }


# ---------------------------------------------------------------- layout and style


def test_terraform_fmt_is_clean():
    if TERRAFORM is None:
        pytest.skip("no terraform binary: run `make tf-tools`")
    result = subprocess.run(
        [TERRAFORM, "fmt", "-check", "-recursive", "-diff", str(TF_DIR)], capture_output=True, text=True
    )
    assert result.returncode == 0, f"run `make tf-fmt`:\n{result.stdout}"


def test_modules_are_the_expected_concerns():
    found = sorted(path.name for path in MODULES_DIR.iterdir() if path.is_dir())
    assert found == sorted(MODULES), "a module was added or removed: update MODULES and the docs"
    assert not (MODULES_DIR / "iam").exists(), "IAM lives with the resources it grants on"


@pytest.mark.parametrize("folder", [TF_DIR] + [MODULES_DIR / m for m in MODULES], ids=lambda p: p.name)
def test_root_and_modules_have_the_standard_files(folder):
    missing = [
        name
        for name in ("main.tf", "variables.tf", "outputs.tf", "versions.tf", "README.md")
        if not (folder / name).exists()
    ]
    assert missing == []


@pytest.mark.parametrize("folder", [TF_DIR] + [MODULES_DIR / m for m in MODULES], ids=lambda p: p.name)
def test_google_provider_pinned_to_a_range(folder):
    terraform = parsed(folder / "versions.tf")["terraform"][0]
    google = first(terraform["required_providers"])["google"]
    assert google["source"] == "hashicorp/google"
    constraint = google["version"]
    assert re.search(r">=\s*\d", constraint) and re.search(r"<\s*\d", constraint), constraint
    # google_bigquery_row_access_policy appeared in 6.36
    low = tuple(int(part) for part in re.search(r">=\s*([\d.]+)", constraint).group(1).split("."))
    assert low >= (6, 36), constraint


def test_readme_tables_are_generated_and_up_to_date():
    assert gen_readme.main(["--check"]) == 0, "run `make tf-readme`"
    assert gen_readme.documented() == [TF_DIR] + [MODULES_DIR / m for m in MODULES]
    for folder in gen_readme.documented():
        text = (folder / "README.md").read_text()
        assert gen_readme.BEGIN in text and gen_readme.END in text
        for name in labelled(folder / "variables.tf", "variable"):
            assert f"| `{name}` |" in text
        for name in labelled(folder / "outputs.tf", "output"):
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
    (tmp_path / "modules").mkdir()
    module.rename(tmp_path / "modules" / "demo")
    (tmp_path / "variables.tf").write_text("")
    assert gen_readme.documented(tmp_path) == [tmp_path, tmp_path / "modules" / "demo"]


@pytest.mark.parametrize("path", tf_files(), ids=lambda p: str(p.relative_to(TF_DIR)))
def test_every_variable_is_typed_and_described(path):
    for name, spec in labelled(path, "variable").items():
        assert "type" in spec, f"{path.name}: variable {name} has no type"
        assert spec.get("description", "").strip(), f"{path.name}: variable {name} has no description"


@pytest.mark.parametrize("path", tf_files(), ids=lambda p: str(p.relative_to(TF_DIR)))
def test_variables_and_outputs_are_alphabetical(path):
    for kind in ("variable", "output"):
        names = list(labelled(path, kind))
        assert names == sorted(names), f"{path.name}: {kind}s out of order"


def test_every_output_is_described():
    for path in tf_files():
        for name, spec in labelled(path, "output").items():
            assert spec.get("description", "").strip(), f"{path}: output {name}"


@pytest.mark.parametrize("module", MODULES)
def test_prefix_is_validated(module):
    spec = labelled(MODULES_DIR / module / "variables.tf", "variable")["prefix"]
    pattern = regex_of(spec["validation"][0]["condition"])
    assert re.match(pattern, "lakehouse") and re.match(pattern, "lh-2")
    for bad in ("Lakehouse", "-lake", "lake_house", "a", "a-very-long-prefix-x"):
        assert not re.match(pattern, bad), bad


def test_identifiers_use_underscores_and_single_resources_are_main():
    for path, rtype, name, _ in all_resources():
        assert re.fullmatch(r"[a-z][a-z0-9_]*", name), f"{path}: {rtype}.{name}"
    for module in MODULES:
        counts: dict[str, list[str]] = {}
        for rtype, name in module_resources(module):
            counts.setdefault(rtype, []).append(name)
        for rtype, names in counts.items():
            if len(names) == 1:
                assert names == ["main"], f"modules/{module}: the only {rtype} should be `main`, not {names}"


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


# ---------------------------------------------------------------- one root, three environments


def test_one_root_serves_every_environment():
    """No per-environment roots: envs/ holds only each env's tfvars and backend config."""
    assert sorted(p.name for p in ENVS_DIR.iterdir()) == sorted(
        [f"{env}.tfvars" for env in ENVS] + [f"{env}.backend.hcl" for env in ENVS]
    )
    assert not [p for p in tf_files(ENVS_DIR)], "envs/ must not hold .tf files"
    terraform = parsed(TF_DIR / "versions.tf")["terraform"][0]
    assert "gcs" in first(terraform["backend"])
    # module sources are the root's own modules folder
    for name, call in root_calls().items():
        assert call["source"] == f"./modules/{name}", name


@pytest.mark.parametrize("env", ENVS)
def test_env_backend_is_a_gcs_bucket_per_env(env):
    backend = parsed(ENVS_DIR / f"{env}.backend.hcl")
    assert backend["bucket"] == f"lakehouse-{env}-tfstate"
    assert backend["prefix"]


def test_envs_set_the_same_root_variables():
    """Environments differ in values only: every tfvars sets the same root variables."""
    variables = set(root_variables())
    keys = {env: set(tfvars(env)) for env in ENVS}
    assert keys["dev"] == keys["staging"] == keys["prod"]
    assert keys["dev"] <= variables, keys["dev"] - variables
    required = {name for name, spec in root_variables().items() if "default" not in spec}
    assert required <= keys["dev"]


@pytest.mark.parametrize("env", ENVS)
def test_env_names_match_conf_env(env):
    """Names Terraform gives resources are the ones conf/env/<env>.yaml hands to the jobs."""
    conf = yaml.safe_load((ROOT / "conf" / "env" / f"{env}.yaml").read_text())
    values = tfvars(env)
    prefix = root_variables()["prefix"]["default"]
    project, region = values["project_id"], values.get("region", "europe-west1")
    assert values["env"] == env and project == conf["gcp_project"] and region == conf["region"]
    # the naming conventions as written in the modules ...
    assert {
        n: b["name"] for _, t, n, b in all_resources(MODULES_DIR / "storage") if t == "google_storage_bucket"
    } == {
        "data": "${var.prefix}-${var.env}-${each.key}",
        "scratch": "${var.prefix}-${var.env}-${each.key}",
    }
    dataproc = module_resources("dataproc")
    assert dataproc[("google_service_account", "main")]["account_id"] == "${var.prefix}-jobs"
    bigquery = module_resources("bigquery")
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


def test_staging_and_prod_use_cmek():
    """Staging rehearses prod: both encrypt the buckets with a customer-managed key."""
    assert tfvars("staging")["create_kms_key"] is True
    assert tfvars("prod")["create_kms_key"] is True


def test_root_wires_the_modules():
    calls = root_calls()
    assert set(calls) == set(MODULES)
    assert calls["dataproc"]["staging_bucket"] == '${module.storage.buckets["staging"]}'
    assert calls["dataproc"]["kms_key_id"] == "${module.storage.kms_key_id}"
    assert calls["bigquery"]["gold_bucket"] == '${module.storage.buckets["gold"]}'
    assert calls["serving"]["views_dataset_id"] == "${module.bigquery.views_dataset_id}"
    assert calls["schedule"]["job_service_account_email"] == "${module.dataproc.service_account_email}"
    # every module but project waits for its APIs through module.project.project_id
    for name, call in calls.items():
        if name != "project":
            assert call["project_id"] == "${module.project.project_id}", name
    services = root_locals()["services"]
    for api in ("cloudscheduler", "dataproc", "monitoring", "run", "secretmanager"):
        assert services[api] == f"{api}.googleapis.com"
    project_outputs = labelled(MODULES_DIR / "project" / "outputs.tf", "output")
    assert project_outputs["project_id"]["depends_on"] == ["${google_project_service.main}"]


def test_default_paths_point_at_the_repository_build_folder():
    local = root_locals()
    for name, tail in (
        ("views_dir", "build/views/bigquery"),
        ("pipeline_batch_file", "build/schedule/${var.env}.json"),
    ):
        default = re.search(r'"\$\{path\.root\}/([^"]+)"', local[name]).group(1)
        assert default == f"../../{tail}", name
        assert (TF_DIR / default.replace("${var.env}", "dev")).resolve() == ROOT / tail.replace(
            "${var.env}", "dev"
        )


def test_moved_blocks_point_at_resources_that_exist():
    """State of the former per-env roots moves to addresses this configuration declares."""
    moved = parsed(TF_DIR / "moved.tf")["moved"]
    assert moved
    for block in moved:
        target = unwrap(block["to"])
        match = re.fullmatch(r"module\.(\w+)\.(\w+)\.(\w+)(\[.*\])?", target)
        assert match, target
        module, rtype, name = match.group(1, 2, 3)
        assert (rtype, name) in module_resources(module), target
        assert unwrap(block["from"]) != target


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
        for (rtype, name), body in module_resources("storage").items()
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
    storage = module_resources("storage")
    grant = storage[("google_kms_crypto_key_iam_member", "main")]
    assert grant["role"] == "roles/cloudkms.cryptoKeyEncrypterDecrypter"
    assert grant["for_each"] == "${local.kms_key_iam}"
    key_iam = module_locals("storage")["kms_key_iam"]
    assert "storage_agent = one(data.google_storage_project_service_account.main[*].member)" in key_iam
    assert "if local.use_cmek" in key_iam
    for name in ("data", "scratch"):
        assert (
            "${google_kms_crypto_key_iam_member.main}"
            in storage[("google_storage_bucket", name)]["depends_on"]
        )
    outputs = labelled(MODULES_DIR / "storage" / "outputs.tf", "output")
    assert outputs["kms_key_id"]["depends_on"] == ["${google_kms_crypto_key_iam_member.main}"]
    key = storage[("google_kms_crypto_key", "main")]
    assert key["lifecycle"][0]["prevent_destroy"] is True and key["rotation_period"]
    # a cluster's disks: the Compute Engine and Dataproc agents get the key, only with a cluster
    assert "var.cluster == null ? {}" in root_locals()["kms_key_iam"]
    assert root_calls()["storage"]["kms_key_iam"] == "${local.kms_key_iam}"


# ---------------------------------------------------------------- IAM


def test_no_primitive_roles_anywhere():
    pattern = re.compile(r"roles/(owner|editor|viewer)\b")
    for path in tf_files() + sorted(TF_DIR.rglob("*.tfvars")):
        assert not pattern.search(path.read_text()), f"{path}: primitive role"


def test_nobody_gets_object_admin():
    """objectUser creates, reads, overwrites and deletes objects; nobody needs to change IAM/ACLs."""
    for path in tf_files() + sorted(TF_DIR.rglob("*.tfvars")):
        assert "roles/storage.objectAdmin" not in path.read_text(), path
    condition = labelled(MODULES_DIR / "storage" / "variables.tf", "variable")["bucket_iam"]["validation"][1][
        "condition"
    ]
    assert "roles/storage.objectUser" in condition and "objectAdmin" not in condition


def test_iam_is_additive_only():
    for path, rtype, name, _ in all_resources():
        assert not re.search(r"_iam_(binding|policy)$", rtype), f"{path}: {rtype}.{name} is authoritative"
        assert rtype != "google_project_iam_audit_config", f"{path}: {rtype}.{name}"


def test_no_public_principals_in_resources_locals_or_tfvars():
    public = ("allUsers", "allAuthenticatedUsers")
    for path, rtype, name, body in all_resources():
        for text in walk_strings(body):
            assert not any(p in text for p in public), f"{path}: {rtype}.{name}"
    for text in walk_strings(root_locals()):
        assert not any(p in text for p in public), text
    for env in ENVS:
        text = (ENVS_DIR / f"{env}.tfvars").read_text()
        assert not any(p in text for p in public), env


MEMBER_VARIABLES = [
    (TF_DIR, "clients"),
    (TF_DIR, "deployer_impersonators"),
    (MODULES_DIR / "deployer", "impersonators"),
    (MODULES_DIR / "serving", "invokers"),
    (MODULES_DIR / "serving", "key_managers"),
    (MODULES_DIR / "project", "iam_bindings"),
    (MODULES_DIR / "storage", "bucket_iam"),
    (MODULES_DIR / "bigquery", "views_dataset_iam"),
    (MODULES_DIR / "bigquery", "row_access"),
    (MODULES_DIR / "dataproc", "service_account_iam"),
]


@pytest.mark.parametrize(
    "folder,variable", MEMBER_VARIABLES, ids=lambda v: v if isinstance(v, str) else v.name
)
def test_member_variables_refuse_public_principals(folder, variable):
    spec = labelled(folder / "variables.tf", "variable")[variable]
    conditions = [
        v["condition"]
        for v in spec["validation"]
        if "regex(" in v["condition"] and "serviceAccount" in v["condition"]
    ]
    assert conditions, f"{folder.name}: {variable} has no member validation"
    pattern = regex_of(conditions[0])
    assert re.match(pattern, "group:finance@example.com")
    assert re.match(pattern, "serviceAccount:ci@ci.iam.gserviceaccount.com")
    for bad in ("allUsers", "allAuthenticatedUsers", "finance@example.com"):
        assert not re.match(pattern, bad), bad


# IAM resource type -> (module that owns the granted resource, attribute naming it, what it must name)
IAM_OWNERS = {
    "google_bigquery_dataset_iam_member": (
        "bigquery",
        "dataset_id",
        "${google_bigquery_dataset.views.dataset_id}",
    ),
    "google_cloud_run_v2_service_iam_member": (
        "serving",
        "name",
        "${google_cloud_run_v2_service.main[0].name}",
    ),
    "google_kms_crypto_key_iam_member": ("storage", "crypto_key_id", "google_kms_crypto_key.main[0].id"),
    "google_project_iam_member": ("project", "project", "${var.project_id}"),
    "google_secret_manager_secret_iam_member": (
        "serving",
        "secret_id",
        "${google_secret_manager_secret.main.secret_id}",
    ),
    "google_service_account_iam_member": (None, "service_account_id", "${google_service_account.main.name}"),
    "google_storage_bucket_iam_member": ("storage", "bucket", "${local.bucket_names[each.value.bucket]}"),
}


def test_each_module_owns_the_iam_on_its_own_resources():
    """A grant lives in the module that creates what it grants on (cloud-foundation-fabric style)."""
    seen = set()
    for path, rtype, name, body in all_resources():
        if not rtype.endswith("_iam_member"):
            continue
        assert path.parent != TF_DIR, f"{path}: the root grants nothing itself; hand the binding to a module"
        assert path.name == "iam.tf", f"{path}: {rtype}.{name} belongs in the module's iam.tf"
        assert rtype in IAM_OWNERS, f"{rtype}: classify it in IAM_OWNERS"
        owner, attribute, target = IAM_OWNERS[rtype]
        module = path.parent.name
        if owner is not None:
            assert module == owner, f"{rtype} must live in modules/{owner}, found in modules/{module}"
        else:  # a service account's IAM lives with that service account
            assert ("google_service_account", "main") in module_resources(module), module
        assert target in body[attribute], f"{path}: {rtype}.{name} grants on {body[attribute]}"
        assert "for_each" in body, f"{path}: {rtype}.{name} must be keyed by stable names"
        seen.add(rtype)
    assert seen == set(IAM_OWNERS)


def test_job_service_account_grants():
    local = root_locals()
    assert local["jobs"] == "${module.dataproc.service_account_member}"
    assert local["job_bucket_roles"] == {
        "bronze": "roles/storage.objectUser",
        "gold": "roles/storage.objectUser",
        "landing": "roles/storage.objectViewer",
        "silver": "roles/storage.objectUser",
        "staging": "roles/storage.objectViewer",
        "temp": "roles/storage.objectUser",
        "warehouse": "roles/storage.objectUser",
    }
    storage = module_locals("storage")
    assert set(local["job_bucket_roles"]) == set(storage["data_buckets"]) | set(storage["scratch_buckets"])
    per_bucket = literal_members_of_for_expressions()["job_bucket_iam"]
    assert "for bucket, role in local.job_bucket_roles" in per_bucket and "member = local.jobs" in per_bucket
    assert bindings_of("${local.jobs}") == {
        ("project_iam", "jobs_dataproc_worker", "roles/dataproc.worker"),
        ("bucket_iam", "jobs_driver_output", "roles/storage.objectUser"),
    }
    driver_output = local["bucket_iam"]["jobs_driver_output"]
    assert driver_output["bucket"] == "staging"
    assert driver_output["object_prefix"] == "google-cloud-dataproc-metainfo/"
    grant = module_resources("storage")[("google_storage_bucket_iam_member", "main")]
    expression = grant["dynamic"][0]["condition"]["content"][0]["expression"]
    assert "resource.name.startsWith" in expression and "/objects/${condition.value}" in expression
    assert root_calls()["storage"]["bucket_iam"] == "${merge(local.bucket_iam, local.job_bucket_iam)}"


def test_project_level_grants_are_few():
    spec = labelled(MODULES_DIR / "project" / "variables.tf", "variable")["iam_bindings"]
    primitive = next(v["condition"] for v in spec["validation"] if "owner" in v["condition"])
    assert primitive.startswith("${alltrue([for binding in values(var.iam_bindings) : !can(regex(")
    for role in ("roles/owner", "roles/editor", "roles/viewer"):
        assert re.match(regex_of(primitive), role)
    assert not re.match(regex_of(primitive), "roles/bigquery.dataViewer")
    local = root_locals()
    assert {key: b["role"] for key, b in local["project_iam"].items()} == {
        "deployer_submitter": "submitter",
        "jobs_dataproc_worker": "roles/dataproc.worker",
        "scheduler_batches": "scheduler",
        "serving_job_user": "roles/bigquery.jobUser",
    }
    clients = literal_members_of_for_expressions()["client_project_iam"]
    assert 'role = "roles/bigquery.jobUser"' in clients and "var.clients" in clients
    assert set(local["custom_roles"]) == {"scheduler", "submitter"}
    assert root_calls()["project"]["iam_bindings"] == "${merge(local.project_iam, local.client_project_iam)}"
    grant = module_resources("project")[("google_project_iam_member", "main")]
    assert grant["role"] == "${lookup(local.custom_role_names, each.value.role, each.value.role)}"


def test_clients_get_bigquery_read_on_the_views_dataset_only():
    clients = literal_members_of_for_expressions()
    assert 'role = "roles/bigquery.dataViewer"' in clients["client_views_dataset_iam"]
    assert 'role = "roles/bigquery.jobUser"' in clients["client_project_iam"]
    uses_clients = {name for name, expression in clients.items() if "var.clients" in expression}
    assert uses_clients == {"client_project_iam", "client_views_dataset_iam"}
    assert "var.clients[key]" in root_locals()["row_access"]  # row filters only narrow what they see
    calls = root_calls()
    assert (
        calls["bigquery"]["views_dataset_iam"]
        == "${merge(local.views_dataset_iam, local.client_views_dataset_iam)}"
    )
    dataset_grant = module_resources("bigquery")[("google_bigquery_dataset_iam_member", "main")]
    assert dataset_grant["dataset_id"] == "${google_bigquery_dataset.views.dataset_id}"
    roles = labelled(MODULES_DIR / "bigquery" / "variables.tf", "variable")["views_dataset_iam"]
    assert "roles/bigquery.dataViewer" in roles["validation"][0]["condition"]
    assert "dataEditor" not in roles["validation"][0]["condition"]


def test_deployer_can_submit_without_broad_roles():
    local = root_locals()
    permissions = local["custom_roles"]["submitter"]["permissions"]
    assert "dataproc.batches.create" in permissions and "dataproc.jobs.create" in permissions
    assert not any(
        p.startswith(("dataproc.clusters.create", "dataproc.clusters.delete", "resourcemanager."))
        for p in permissions
    )
    assert bindings_of("${local.deployer}") == {
        ("project_iam", "deployer_submitter", "submitter"),
        ("bucket_iam", "deployer_staging", "roles/storage.objectUser"),
        ("job_service_account_iam", "deployer_act_as", "roles/iam.serviceAccountUser"),
    }
    assert root_calls()["dataproc"]["service_account_iam"] == "${local.job_service_account_iam}"
    impersonation = module_resources("deployer")[("google_service_account_iam_member", "main")]
    assert impersonation["role"] == "roles/iam.serviceAccountTokenCreator"
    assert impersonation["for_each"] == "${var.impersonators}"
    assert root_calls()["deployer"]["impersonators"] == "${var.deployer_impersonators}"


def test_serving_service_account_has_exactly_three_grants():
    """The API's account: dataViewer on the views dataset, jobUser on the project, the one secret."""
    assert root_locals()["serving"] == "${module.serving.service_account_member}"
    assert bindings_of("${local.serving}") == {
        ("project_iam", "serving_job_user", "roles/bigquery.jobUser"),
        ("views_dataset_iam", "serving_api", "roles/bigquery.dataViewer"),
    }
    secret_iam = unwrap(module_locals("serving")["secret_iam"])
    own = re.findall(
        r"member\s*=\s*google_service_account\.main\.member,\s*role\s*=\s*\"([^\"]+)\"", secret_iam
    )
    assert own == ["roles/secretmanager.secretAccessor"]
    assert "var.key_managers" in secret_iam and "roles/secretmanager.secretVersionAdder" in secret_iam
    grant = module_resources("serving")[("google_secret_manager_secret_iam_member", "main")]
    assert grant["secret_id"] == "${google_secret_manager_secret.main.secret_id}"
    # no other resource in the module grants its account anything
    for (rtype, name), body in module_resources("serving").items():
        if rtype.endswith("_iam_member") and rtype != "google_secret_manager_secret_iam_member":
            assert "google_service_account.main" not in json.dumps(body), f"{rtype}.{name}"


def test_scheduler_service_account_grants():
    """The scheduler may create and read batches, and act as the job service account: nothing else."""
    local = root_locals()
    assert local["scheduler"] == "${module.schedule.service_account_member}"
    assert bindings_of("${local.scheduler}") == {
        ("project_iam", "scheduler_batches", "scheduler"),
        ("job_service_account_iam", "scheduler_act_as", "roles/iam.serviceAccountUser"),
    }
    assert sorted(local["custom_roles"]["scheduler"]["permissions"]) == [
        "dataproc.batches.create",
        "dataproc.batches.get",
    ]
    schedule = module_resources("schedule")
    assert not [key for key in schedule if key[0].endswith("_iam_member")]
    account = schedule[("google_service_account", "main")]
    assert account["account_id"] == "${var.prefix}-scheduler"


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
    services = [body for _, rtype, _, body in all_resources() if rtype == "google_cloud_run_v2_service"]
    assert services
    for body in services:
        assert run_check.service_account_of(body) == "${google_service_account.main.email}"


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


def test_cloud_run_check_logic():
    def service(account):
        template = {} if account is None else {"service_account": [account]}
        return {"template": [template]}

    assert run_check.runs_as_dedicated_service_account(service("api@p.iam.gserviceaccount.com"))
    assert not run_check.runs_as_dedicated_service_account(service(None))
    assert not run_check.runs_as_dedicated_service_account(
        service("42-compute@developer.gserviceaccount.com")
    )
    assert not run_check.runs_as_dedicated_service_account({})
    assert run_check.is_public({"member": ["allUsers"]})
    assert run_check.is_public({"members": [["group:a@example.com", "allAuthenticatedUsers"]]})
    assert not run_check.is_public({"member": ["group:a@example.com"]})
    assert not run_check.is_public({"members": [["serviceAccount:x@p.iam.gserviceaccount.com"]]})


def _checkov(folder: Path, checks: str) -> tuple[list[str], list[str]]:
    result = subprocess.run(
        [
            str(CHECKOV),
            "-d",
            str(folder),
            "--framework",
            "terraform",
            "--external-checks-dir",
            str(TF_DIR / "checks"),
            "--check",
            checks,
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
    return failed, passed


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
    failed, passed = _checkov(tmp_path, "CKV_LAKEHOUSE_1")
    assert failed == ["google_dataproc_cluster.compute_sa", "google_dataproc_cluster.default_sa"]
    assert passed == ["google_dataproc_cluster.dedicated"]


@needs_checkov
def test_custom_checks_fail_a_public_or_default_account_cloud_run_service(tmp_path):
    (tmp_path / "main.tf").write_text(
        'resource "google_cloud_run_v2_service" "default_sa" {\n  name = "a"\n  location = "europe-west1"\n'
        '  template {\n    containers {\n      image = "i"\n    }\n  }\n}\n'
        'resource "google_cloud_run_v2_service" "dedicated" {\n  name = "b"\n  location = "europe-west1"\n'
        '  template {\n    service_account = "api@p.iam.gserviceaccount.com"\n'
        '    containers {\n      image = "i"\n    }\n  }\n}\n'
        'resource "google_cloud_run_v2_service_iam_member" "public" {\n  name = "b"\n  location = "europe-west1"\n'
        '  role = "roles/run.invoker"\n  member = "allUsers"\n}\n'
        'resource "google_cloud_run_v2_service_iam_binding" "authenticated" {\n  name = "b"\n  location = "europe-west1"\n'
        '  role = "roles/run.invoker"\n  members = ["group:a@example.com", "allAuthenticatedUsers"]\n}\n'
        'resource "google_cloud_run_v2_service_iam_member" "group" {\n  name = "b"\n  location = "europe-west1"\n'
        '  role = "roles/run.invoker"\n  member = "group:portal@example.com"\n}\n'
    )
    failed, passed = _checkov(tmp_path, "CKV_LAKEHOUSE_2,CKV_LAKEHOUSE_3")
    assert failed == [
        "google_cloud_run_v2_service.default_sa",
        "google_cloud_run_v2_service_iam_binding.authenticated",
        "google_cloud_run_v2_service_iam_member.public",
    ]
    assert passed == ["google_cloud_run_v2_service.dedicated", "google_cloud_run_v2_service_iam_member.group"]


def test_cluster_runs_spark_35_with_delta_privately():
    dataproc = module_resources("dataproc")
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


@pytest.mark.parametrize("folder", [MODULES_DIR / m for m in MODULES] + [TF_DIR], ids=lambda p: p.name)
def test_for_each_iterates_maps_with_stable_keys(folder):
    maps = {f"var.{n}" for n in _map_typed_variables(folder)} | {f"local.{n}" for n in _map_locals(folder)}
    seen = 0
    paths = root_files() if folder == TF_DIR else tf_files(folder)
    for path in paths:
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
    if folder.name not in ("monitoring", "schedule", "terraform"):
        assert seen, f"{folder.name}: expected for_each resources"


# ---------------------------------------------------------------- client views and row access


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
    tables = spec["tables"]["default"]
    assert set(tables) == {
        "billing_health",
        "churn_retention",
        "churn_risk",
        "location_scorecard",
        "location_scorecard_bottom",
        "model_metrics",
    }
    # every table with per-location rows can be filtered by location; model_metrics has none
    assert {name for name, table in tables.items() if table.get("location_column") == "location_id"} == set(
        tables
    ) - {"model_metrics"}
    assert spec["source_format"]["default"] == "DELTA_LAKE"
    bigquery = module_resources("bigquery")
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


def _row_access_policies(row_access: str, tmp_path: Path) -> dict:
    local = module_locals("bigquery")
    tables = (
        '{ churn_risk = { location_column = "location_id" }, model_metrics = { location_column = null },'
        ' billing_health = { location_column = "location_id" } }'
    )
    filtered = substitute(unwrap(local["row_filtered_tables"]), {"var.tables": tables})
    expression = substitute(
        unwrap(local["row_access_policies"]),
        {"local.row_filtered_tables": filtered, "var.row_access": row_access},
    )
    return run_console(expression, tmp_path)


@needs_terraform
def test_row_access_policies_limit_each_client_to_its_locations(tmp_path):
    policies = _row_access_policies(
        '{ client_north = { grantees = ["group:north@example.com"], location_ids = ["loc-001", "loc-002"] },'
        '  serving_api = { grantees = ["serviceAccount:api@p.iam.gserviceaccount.com"], location_ids = ["*"] } }',
        tmp_path,
    )
    assert policies == {
        f"{table}/{policy}": {"filter": flt, "grantees": grantees, "policy": policy, "table": table}
        for table in ("billing_health", "churn_risk")
        for policy, flt, grantees in (
            ("client_north", 'location_id IN ("loc-001", "loc-002")', ["group:north@example.com"]),
            ("serving_api", "TRUE", ["serviceAccount:api@p.iam.gserviceaccount.com"]),
        )
    }
    assert _row_access_policies("{}", tmp_path) == {}
    resource = module_resources("bigquery")[("google_bigquery_row_access_policy", "main")]
    assert resource["for_each"] == "${local.row_access_policies}"
    assert resource["table_id"] == "${google_bigquery_table.gold[each.value.table].table_id}"
    assert resource["dataset_id"] == "${google_bigquery_dataset.gold.dataset_id}"


@needs_terraform
def test_root_row_access_comes_from_client_locations(tmp_path):
    expression = unwrap(root_locals()["row_access"])
    values = {
        "var.clients": '{ north = "group:north@example.com", south = "group:south@example.com" }',
        "local.serving": '"serviceAccount:api@p.iam.gserviceaccount.com"',
    }
    assert run_console(substitute(expression, {**values, "var.client_locations": "{}"}), tmp_path) == {}
    rendered = run_console(
        substitute(expression, {**values, "var.client_locations": '{ north = ["loc-001"] }'}), tmp_path
    )
    assert rendered == {
        "client_north": {"grantees": ["group:north@example.com"], "location_ids": ["loc-001"]},
        "serving_api": {"grantees": ["serviceAccount:api@p.iam.gserviceaccount.com"], "location_ids": ["*"]},
    }
    for env in ENVS:
        assert tfvars(env)["client_locations"] == {}


def test_row_access_location_ids_cannot_inject_sql():
    spec = labelled(MODULES_DIR / "bigquery" / "variables.tf", "variable")["row_access"]
    condition = next(v["condition"] for v in spec["validation"] if "location_ids" in v["condition"])
    pattern = regex_of(condition)
    for good in ("loc-001", "L_7", "store.12"):
        assert re.match(pattern, good)
    for bad in ('a") OR TRUE OR ("', "a b", "", "x'"):
        assert not re.match(pattern, bad), bad


# ---------------------------------------------------------------- serving (issue 18)


def test_query_api_runs_lakehouse_serve_with_its_contract():
    serving = module_resources("serving")
    local = module_locals("serving")
    values = {"local.keys_dir": local["keys_dir"], "local.keys_file": local["keys_file"]}
    env_vars = {
        name: re.sub(r"\$\{([^}]+)\}", lambda m: values.get(m.group(1), m.group(0)), value)
        for name, value in local["env_vars"].items()
    }
    assert env_vars == {
        "GOOGLE_CLOUD_PROJECT": "${var.project_id}",
        "LAKEHOUSE_API_KEYS_FILE": "/secrets/api-keys/keys.json",
        "LAKEHOUSE_BIGQUERY_DATASET": "${var.views_dataset_id}",
        "LAKEHOUSE_ENV": "${var.env}",
        "LAKEHOUSE_QUERY_ENGINE": "bigquery",
    }
    service = serving[("google_cloud_run_v2_service", "main")]
    assert service["count"] == "${var.image == null ? 0 : 1}"
    template = service["template"][0]
    container = template["containers"][0]
    assert [container["command"], container["args"]] == [
        ["lakehouse"],
        ["serve", "--host", "0.0.0.0", "--port", "8080"],
    ]
    assert container["ports"][0]["container_port"] == 8080
    assert container["image"] == "${var.image}"
    assert container["volume_mounts"][0]["mount_path"] == "${local.keys_dir}"
    volume = template["volumes"][0]
    assert volume["name"] == container["volume_mounts"][0]["name"]
    assert volume["secret"][0]["secret"] == "${google_secret_manager_secret.main.secret_id}"
    assert volume["secret"][0]["items"][0] == {"version": "latest", "path": "${local.keys_file}"}
    secret = serving[("google_secret_manager_secret", "main")]
    assert secret["secret_id"] == "${var.prefix}-${var.env}-api-keys"
    assert not [key for key in serving if key[0] == "google_secret_manager_secret_version"], (
        "secret versions are added by `lakehouse keys` / gcloud, never by Terraform (they would land in state)"
    )
    assert serving[("google_service_account", "main")]["account_id"] == "${var.prefix}-api"
    calls = root_calls()
    assert calls["serving"]["image"] == "${var.serving_image}"
    assert root_variables()["serving_image"]["default"] is None


def test_query_api_is_never_public():
    serving = module_resources("serving")
    invoker = serving[("google_cloud_run_v2_service_iam_member", "main")]
    assert invoker["role"] == "roles/run.invoker" and invoker["for_each"] == "${local.invokers}"
    assert "if var.image != null" in module_locals("serving")["invokers"]
    spec = labelled(MODULES_DIR / "serving" / "variables.tf", "variable")
    assert spec["ingress"]["default"] == "INGRESS_TRAFFIC_ALL"
    assert root_calls()["serving"]["invokers"] == "${var.serving_invokers}"
    for env in ENVS:
        assert tfvars(env)["serving_invokers"] == {} or all(
            not m.startswith("all") for m in tfvars(env)["serving_invokers"].values()
        )


@needs_terraform
def test_query_api_service_and_invokers_only_with_an_image(tmp_path):
    serving = module_resources("serving")
    count = unwrap(serving[("google_cloud_run_v2_service", "main")]["count"])
    invokers = unwrap(module_locals("serving")["invokers"])
    members = '{ portal = "serviceAccount:portal@p.iam.gserviceaccount.com" }'
    assert run_console(substitute(count, {"var.image": "null"}), tmp_path) == 0
    assert run_console(substitute(count, {"var.image": '"europe-docker.pkg.dev/p/r/api:1"'}), tmp_path) == 1
    assert run_console(substitute(invokers, {"var.image": "null", "var.invokers": members}), tmp_path) == {}
    assert run_console(substitute(invokers, {"var.image": '"img"', "var.invokers": members}), tmp_path) == {
        "portal": "serviceAccount:portal@p.iam.gserviceaccount.com"
    }


# ---------------------------------------------------------------- schedule (issue 19)


def test_scheduler_posts_the_batch_to_dataproc_as_its_own_account():
    schedule = module_resources("schedule")
    job = schedule[("google_cloud_scheduler_job", "main")]
    target = job["http_target"][0]
    assert target["http_method"] == "POST"
    assert target["body"] == "${base64encode(local.batch_body)}"
    assert target["headers"] == {"Content-Type": "application/json"}
    assert target["oauth_token"][0]["service_account_email"] == "${google_service_account.main.email}"
    assert target["uri"] == "${local.uri}"
    uri = module_locals("schedule")["uri"]
    assert (
        uri == "https://dataproc.googleapis.com/v1/projects/${var.project_id}/locations/${var.region}/batches"
    )
    assert "batchId" not in uri  # Dataproc names each scheduled batch
    assert job["retry_config"][0]["retry_count"] == "${var.retry_count}"
    assert (job["schedule"], job["time_zone"], job["paused"]) == (
        "${var.schedule}",
        "${var.time_zone}",
        "${var.paused}",
    )
    call = root_calls()["schedule"]
    assert call["schedule"] == "${var.pipeline_schedule}"
    assert call["paused"] == "${var.pipeline_schedule_paused}"
    assert call["time_zone"] == "${var.pipeline_schedule_time_zone}"
    assert call["batch_file"] == "${local.pipeline_batch_file}"
    assert root_variables()["pipeline_schedule"]["default"] == "0 3 * * *"
    for env in ENVS:
        values = tfvars(env)
        assert len(values["pipeline_schedule"].split()) == 5 and values["pipeline_schedule_time_zone"]
        assert isinstance(values["pipeline_schedule_paused"], bool)


def _schedule_expression(name: str, batch_file: Path) -> str:
    local = module_locals("schedule")
    batch_body = substitute(unwrap(local["batch_body"]), {"var.batch_file": json.dumps(str(batch_file))})
    values = {
        "local.batch_body": batch_body,
        "local.job_name": '"lakehouse-dev-pipeline"',
        "var.batch_file": json.dumps(str(batch_file)),
        "var.env": '"dev"',
        "var.paused": "false",
        "var.schedule": '"0 3 * * *"',
        "var.time_zone": '"Etc/UTC"',
        "var.job_service_account_email": '"lakehouse-jobs@lakehouse-dev.iam.gserviceaccount.com"',
    }
    job = module_resources("schedule")[("google_cloud_scheduler_job", "main")]
    expressions = {
        "count": job["count"],
        "status": local["status"],
        **{f"precondition_{i}": p["condition"] for i, p in enumerate(job["lifecycle"][0]["precondition"])},
    }
    return substitute(unwrap(expressions[name]), values)


BATCH = {
    "pysparkBatch": {
        "mainPythonFileUri": "gs://lakehouse-dev-staging/jobs/pipeline-0123abcd.py",
        "args": ["--env", "dev", "--profile", "small"],
        "pythonFileUris": ["gs://lakehouse-dev-staging/code/lakehouse-0123abcd.zip"],
    },
    "runtimeConfig": {"version": "2.2", "properties": {"spark.sql.session.timeZone": "UTC"}},
    "environmentConfig": {
        "executionConfig": {
            "serviceAccount": "lakehouse-jobs@lakehouse-dev.iam.gserviceaccount.com",
            "stagingBucket": "lakehouse-dev-temp",
            "subnetworkUri": "projects/lakehouse-dev/regions/europe-west1/subnetworks/lakehouse-dataproc",
        }
    },
    "labels": {"env": "dev", "job": "pipeline"},
}


@needs_terraform
def test_scheduler_job_exists_only_when_the_batch_file_does(tmp_path):
    missing = tmp_path / "build" / "schedule" / "dev.json"
    assert run_console(_schedule_expression("count", missing), tmp_path) == 0
    status = run_console(_schedule_expression("status", missing), tmp_path)
    assert status.startswith("no scheduler job:") and str(missing) in status and "does not exist" in status
    missing.parent.mkdir(parents=True)
    missing.write_text(json.dumps(BATCH, indent=2))
    assert run_console(_schedule_expression("count", missing), tmp_path) == 1
    assert run_console(_schedule_expression("status", missing), tmp_path) == (
        "scheduler job lakehouse-dev-pipeline (0 3 * * *, Etc/UTC)"
    )
    outputs = labelled(MODULES_DIR / "schedule" / "outputs.tf", "output")
    assert outputs["status"]["value"] == "${local.status}"
    assert "module.schedule.status" in json.dumps(
        labelled(TF_DIR / "outputs.tf", "output")["pipeline_schedule"]
    )


@needs_terraform
def test_scheduler_refuses_a_batch_file_that_is_not_the_rest_body(tmp_path):
    batch_file = tmp_path / "dev.json"
    batch_file.write_text(json.dumps(BATCH))
    assert run_console(_schedule_expression("precondition_0", batch_file), tmp_path) is True
    assert run_console(_schedule_expression("precondition_1", batch_file), tmp_path) is True
    snake = {"pyspark_batch": BATCH["pysparkBatch"], "environment_config": BATCH["environmentConfig"]}
    batch_file.write_text(json.dumps(snake))
    assert run_console(_schedule_expression("precondition_0", batch_file), tmp_path) is False
    other_account = json.loads(json.dumps(BATCH))
    other_account["environmentConfig"]["executionConfig"]["serviceAccount"] = (
        "other@p.iam.gserviceaccount.com"
    )
    batch_file.write_text(json.dumps(other_account))
    assert run_console(_schedule_expression("precondition_1", batch_file), tmp_path) is False
    batch_file.write_text("POST https://...\n" + json.dumps(BATCH))  # the whole dry-run output
    assert run_console(_schedule_expression("precondition_0", batch_file), tmp_path) is False


# ---------------------------------------------------------------- alerts (issue 19)


@needs_terraform
def test_alert_policies_watch_failed_batches_and_the_pipeline_marker(tmp_path):
    monitoring = module_resources("monitoring")
    assert {name for (rtype, name) in monitoring if rtype == "google_monitoring_alert_policy"} == {
        "batch_failed",
        "pipeline_error",
    }
    local = module_locals("monitoring")
    variables = labelled(MODULES_DIR / "monitoring" / "variables.tf", "variable")
    assert variables["alert_marker"]["default"] == ALERT_MARKER
    values = {
        "var.region": '"europe-west1"',
        "var.project_id": '"lakehouse-dev"',
        "var.alert_marker": json.dumps(ALERT_MARKER),
    }
    values = {
        "local.batch_logs": substitute(hcl(local["batch_logs"]), values),
        "local.driver_output_log": substitute(hcl(local["driver_output_log"]), values),
        **values,
    }
    filters = run_console(substitute(hcl(local["filters"]), values), tmp_path)
    output_log = 'logName="projects/lakehouse-dev/logs/dataproc.googleapis.com%2Foutput"'
    for text in filters.values():
        assert 'resource.type="cloud_dataproc_batch"' in text
        assert 'resource.labels.location="europe-west1"' in text
    assert output_log in filters["pipeline_error"] and f'"{ALERT_MARKER}"' in filters["pipeline_error"]
    assert f"-{output_log}" in filters["batch_failed"] and '"FAILED"' in filters["batch_failed"]
    for name in ("batch_failed", "pipeline_error"):
        policy = monitoring[("google_monitoring_alert_policy", name)]
        condition = policy["conditions"][0]["condition_matched_log"][0]
        assert condition["filter"] == f"${{local.filters.{name}}}"
        assert policy["notification_channels"] == "${var.notification_channels}"
        assert policy["alert_strategy"][0]["notification_rate_limit"][0]["period"]
    assert root_calls()["monitoring"]["notification_channels"] == "${var.alert_notification_channels}"
    for env in ENVS:
        assert isinstance(tfvars(env)["alert_notification_channels"], list)


# ---------------------------------------------------------------- make targets


def _make_env() -> dict:
    # a clean environment: a parent `make -j` must not make these runs parallel or dry
    return {
        k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES")
    }


def test_make_fragment_defines_the_targets(tmp_path):
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
    mk = ["-f", str(TF_DIR / "terraform.mk")]
    for target, verb in (("tf-plan", "plan -input=false"), ("tf-apply", "apply")):
        result = subprocess.run(
            [make, "-n", *mk, target, "ENV=staging", "TF=true"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            env=_make_env(),
        )
        assert result.returncode == 0, result.stderr
        out = result.stdout
        assert (
            "-chdir=infra/terraform init -input=false -reconfigure -backend-config=envs/staging.backend.hcl"
            in out
        )
        assert f"-chdir=infra/terraform {verb} " in out and "-var-file=envs/staging.tfvars" in out
        assert f"TF_DATA_DIR={TF_DIR}/.terraform/staging" in out
        assert f"pipeline_batch_file={ROOT}/build/schedule/staging.json" in out
        assert "views export --dialect bigquery" in out
    # the guard alone runs (tf-bootstrap's only prerequisite), so nothing reaches gcloud
    bad = subprocess.run(
        [make, *mk, "tf-bootstrap", "ENV=qa"], cwd=ROOT, capture_output=True, text=True, env=_make_env()
    )
    assert bad.returncode != 0 and "ENV must be one of" in bad.stderr
    bootstrap = subprocess.run(
        [make, "-n", *mk, "tf-bootstrap", "ENV=prod"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=_make_env(),
    )
    assert "envs/prod.backend.hcl" in bootstrap.stdout and "envs/prod.tfvars" in bootstrap.stdout


def test_missing_terraform_is_built_from_the_go_module_proxy(tmp_path):
    make = shutil.which("make")
    if make is None:
        pytest.skip("make not on PATH")
    mk = ["-f", str(TF_DIR / "terraform.mk")]
    result = subprocess.run(
        [
            make,
            "-n",
            *mk,
            "tf-tools",
            f"TF={tmp_path}/missing/terraform",
            f"TF_TOOLS_BIN={tmp_path}/bin",
            f"CHECKOV_VENV={CHECKOV.parent.parent}",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=_make_env(),
    )
    assert result.returncode == 0, result.stderr
    assert f"GOBIN={tmp_path}/bin go install" in result.stdout
    assert "github.com/hashicorp/terraform@v1.8.5" in result.stdout
    # with a terraform that runs, nothing is built
    present = subprocess.run(
        [
            make,
            "-n",
            *mk,
            "tf-tools",
            "TF=true",
            f"TF_TOOLS_BIN={tmp_path}/bin",
            f"CHECKOV_VENV={CHECKOV.parent.parent}",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=_make_env(),
    )
    assert "go install" not in present.stdout
    ignored = (TF_DIR / ".gitignore").read_text().splitlines()
    assert ".tools/" in ignored and ".terraform/" in ignored


# ---------------------------------------------------------------- references (what validate would catch)


REFERENCE = re.compile(r"(?<![\w.])(var|local|module|data|google_\w+)\.(\w+)(?:\.(\w+))?")


def _references(folder: Path, paths: list[Path]) -> list[tuple[str, str, str | None, Path]]:
    found = []
    for path in paths:
        text = "\n".join(
            line.split("#", 1)[0]
            if not line.lstrip().startswith(("description", "error_message", "content"))
            else ""
            for line in path.read_text().splitlines()
        )
        for kind, name, attribute in REFERENCE.findall(text):
            found.append((kind, name, attribute or None, path))
    return found


@pytest.mark.parametrize("folder", [TF_DIR] + [MODULES_DIR / m for m in MODULES], ids=lambda p: p.name)
def test_references_resolve(folder):
    """Every var., local., module., data. and resource reference names something declared.

    `terraform validate` would catch these, but it needs the Google provider from the registry."""
    paths = root_files() if folder == TF_DIR else tf_files(folder)
    variables = set(labelled(folder / "variables.tf", "variable"))
    locals_ = set(_locals(paths))
    declared_resources = {(rtype, name) for path in paths for rtype, name, _ in resources(path)}
    declared_data = {
        (dtype, name)
        for path in paths
        for entry in parsed(path).get("data", [])
        for dtype, named in entry.items()
        for name in named
    }
    calls = root_calls() if folder == TF_DIR else {}
    for kind, name, attribute, path in _references(folder, paths):
        where = f"{path.relative_to(TF_DIR)}: {kind}.{name}"
        if kind == "var":
            assert name in variables, where
        elif kind == "local":
            assert name in locals_, where
        elif kind == "module":
            if path.name == "moved.tf":
                continue
            assert name in calls, where
            outputs = labelled(MODULES_DIR / name / "outputs.tf", "output")
            assert attribute in outputs, f"{where}.{attribute}: no such output"
        elif kind == "data":
            assert (name, attribute) in declared_data, f"{where}.{attribute}"
        elif path.name != "moved.tf" and not name.startswith("googleapis"):
            assert (kind, name) in declared_resources, where


def test_module_calls_pass_declared_variables_and_every_required_one():
    for name, call in root_calls().items():
        variables = labelled(MODULES_DIR / name / "variables.tf", "variable")
        arguments = set(call) - {"source", "depends_on", "providers", "count", "for_each"}
        assert arguments <= set(variables), f"module.{name}: unknown arguments {arguments - set(variables)}"
        required = {v for v, spec in variables.items() if "default" not in spec}
        assert required <= arguments, f"module.{name}: missing {required - arguments}"
