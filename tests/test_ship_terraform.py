"""deploy/terraform checked as far as this machine allows (no Terraform binary, no cloud): every file parses,
module calls match their modules, references resolve, checkov passes, and the production essentials hold."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import hcl2
import pytest

from tests.ship_tools import CHECKOV, DOCKERFILE, ROOT, TERRAFORM, require_tool

pytestmark = pytest.mark.slow

TF_FILES = sorted(TERRAFORM.rglob("*.tf"))
MODULE_DIRS = sorted({path.parent for path in TF_FILES})
CANARY = ROOT / "tests" / "data" / "checkov_canary"
META_ARGUMENTS = {"source", "version", "count", "for_each", "depends_on", "providers", "__is_block__", "__comments__"}


def unquote(value: Any) -> Any:
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


@cache
def parsed(path: Path) -> dict[str, Any]:
    with path.open() as handle:
        return hcl2.load(handle)


def blocks(directory: Path, kind: str) -> dict[str, dict[str, Any]]:
    """Blocks of one kind (variable, output, module, locals) in a module directory, by name."""
    found: dict[str, dict[str, Any]] = {}
    for path in sorted(directory.glob("*.tf")):
        for block in parsed(path).get(kind, []):
            if kind == "locals":
                found.update({name: {"value": value} for name, value in block.items() if name != "__is_block__"})
            else:
                found.update({unquote(name): body for name, body in block.items()})
    return found


def resources(directory: Path, resource_type: str) -> dict[str, dict[str, Any]]:
    found = {}
    for path in sorted(directory.glob("*.tf")):
        for block in parsed(path).get("resource", []):
            for rtype, named in block.items():
                if unquote(rtype) == resource_type:
                    found.update({unquote(name): body for name, body in named.items()})
    return found


def all_resources(resource_type: str) -> dict[str, dict[str, Any]]:
    return {
        f"{directory.relative_to(TERRAFORM)}/{name}": body
        for directory in MODULE_DIRS
        for name, body in resources(directory, resource_type).items()
    }


def module_calls(directory: Path) -> dict[str, tuple[dict[str, Any], Path]]:
    return {
        name: (body, (directory / unquote(body["source"])).resolve())
        for name, body in blocks(directory, "module").items()
    }


def code(directory: Path) -> str:
    """The module's HCL without full-line comments."""
    text = "\n".join(path.read_text() for path in sorted(directory.glob("*.tf")))
    return re.sub(r"(?m)^\s*#.*$", "", text)


def unresolved_references(directory: Path) -> list[str]:
    """var., local. and module.<call>.<output> references in a module that name nothing declared."""
    text = code(directory)
    variables, local_names = blocks(directory, "variable"), blocks(directory, "locals")
    calls = module_calls(directory)
    problems = [f"var.{name}" for name in set(re.findall(r"\bvar\.(\w+)", text)) if name not in variables]
    problems += [f"local.{name}" for name in set(re.findall(r"\blocal\.(\w+)", text)) if name not in local_names]
    for call, output in set(re.findall(r"\bmodule\.(\w+)(?:\[[^\]]*\])?\.(\w+)", text)):
        if call not in calls:
            problems.append(f"module.{call}")
        elif output not in blocks(calls[call][1], "output"):
            problems.append(f"module.{call}.{output}")
    return sorted(problems)


def call_mismatches(directory: Path) -> list[str]:
    """Module calls that miss a required variable or pass an undeclared one."""
    problems = []
    for call, (body, source) in module_calls(directory).items():
        declared = blocks(source, "variable")
        required = {name for name, spec in declared.items() if "default" not in spec}
        passed = set(body) - META_ARGUMENTS
        problems += [f"{call}: missing {name}" for name in sorted(required - passed)]
        problems += [f"{call}: undeclared {name}" for name in sorted(passed - set(declared))]
    return problems


@pytest.mark.parametrize("path", TF_FILES, ids=lambda p: str(p.relative_to(TERRAFORM)))
def test_every_terraform_file_parses(path: Path) -> None:
    assert parsed(path), f"{path} is empty"


def test_the_layout_has_every_module_and_both_environments() -> None:
    modules = {p.name for p in (TERRAFORM / "modules").iterdir() if p.is_dir()}
    assert modules == {
        "network", "cloud_sql", "cloud_run", "storage", "redis", "load_balancer", "dns", "cloud_armor",
        "monitoring", "artifact_registry", "workload_identity",
    }  # fmt: skip
    platform_calls = {source.name for _, source in module_calls(TERRAFORM / "platform").values()}
    assert platform_calls == modules
    for env in ("staging", "production"):
        assert {source for _, source in module_calls(TERRAFORM / "envs" / env).values()} == {TERRAFORM / "platform"}


@pytest.mark.parametrize("directory", MODULE_DIRS, ids=lambda p: str(p.relative_to(TERRAFORM)))
def test_module_calls_pass_exactly_the_required_and_only_declared_variables(directory: Path) -> None:
    assert call_mismatches(directory) == []


@pytest.mark.parametrize("directory", MODULE_DIRS, ids=lambda p: str(p.relative_to(TERRAFORM)))
def test_every_var_local_and_module_reference_resolves(directory: Path) -> None:
    assert unresolved_references(directory) == []


def test_the_structure_checks_can_fail(tmp_path: Path) -> None:
    module = tmp_path / "modules" / "thing"
    module.mkdir(parents=True)
    (module / "variables.tf").write_text('variable "needed" {\n  type = string\n  description = "x"\n}\n')
    (module / "outputs.tf").write_text('output "id" {\n  description = "x"\n  value = var.needed\n}\n')
    root = tmp_path / "root"
    root.mkdir()
    (root / "main.tf").write_text(
        'module "thing" {\n  source = "../modules/thing"\n  extra = var.missing\n}\n'
        'output "x" {\n  description = "x"\n  value = module.thing.nope\n}\n'
    )
    assert call_mismatches(root) == ["thing: missing needed", "thing: undeclared extra"]
    assert unresolved_references(root) == ["module.thing.nope", "var.missing"]


@pytest.mark.parametrize("directory", MODULE_DIRS, ids=lambda p: str(p.relative_to(TERRAFORM)))
def test_every_variable_is_typed_and_described_and_every_output_described(directory: Path) -> None:
    for name, spec in blocks(directory, "variable").items():
        assert "type" in spec and unquote(spec.get("description", "")), f"variable {name}"
    for name, spec in blocks(directory, "output").items():
        assert unquote(spec.get("description", "")), f"output {name}"


def test_inputs_where_a_bad_value_is_possible_are_validated() -> None:
    validated = {
        (directory.name, name)
        for directory in MODULE_DIRS
        for name, spec in blocks(directory, "variable").items()
        if "validation" in spec
    }
    for expected in [
        ("cloud_run", "image"), ("cloud_run", "api"), ("cloud_run", "worker"), ("cloud_sql", "tier"),
        ("cloud_sql", "transaction_log_retention_days"), ("network", "subnet_cidr"), ("dns", "dns_name"),
        ("workload_identity", "github_environment"), ("platform", "environment"), ("platform", "secret_versions"),
    ]:  # fmt: skip
        assert expected in validated, expected


def test_providers_are_pinned_and_the_lock_files_select_a_version_inside_the_constraint() -> None:
    constraints = set()
    for path in TERRAFORM.rglob("versions.tf"):
        for block in parsed(path)["terraform"]:
            for providers in block["required_providers"]:
                constraints.add(unquote(providers["google"]["version"]))
    assert constraints == {"~> 7.40"}
    for env in ("staging", "production"):
        lock = (TERRAFORM / "envs" / env / ".terraform.lock.hcl").read_text()
        google = r'provider "registry.terraform.io/hashicorp/google" \{\s+version\s+= "(7\.(\d+)\.\d+)"'
        version = re.search(google, lock)
        assert version and int(version.group(2)) >= 40, lock
        assert 'constraints = "~> 7.40"' in lock


def test_each_environment_keeps_its_state_in_its_own_gcs_backend() -> None:
    backends = []
    for env in ("staging", "production"):
        terraform = parsed(TERRAFORM / "envs" / env / "versions.tf")["terraform"][0]
        gcs = terraform["backend"][0]['"gcs"']
        backends.append((unquote(gcs["bucket"]), unquote(gcs["prefix"])))
        assert env in backends[-1][0]
    assert len(set(backends)) == 2


# ---- production essentials ----------------------------------------------------------------------------


def production_platform_arguments() -> dict[str, Any]:
    return blocks(TERRAFORM / "envs" / "production", "module")["platform"]


def test_cloud_sql_has_pitr_backups_tls_private_ip_and_deletion_protection() -> None:
    instance = resources(TERRAFORM / "modules" / "cloud_sql", "google_sql_database_instance")["postgres"]
    settings = instance["settings"][0]
    backups = settings["backup_configuration"][0]
    assert backups["enabled"] is True and backups["point_in_time_recovery_enabled"] is True
    assert unquote(settings["ip_configuration"][0]["ssl_mode"]) == "TRUSTED_CLIENT_CERTIFICATE_REQUIRED"
    assert settings["ip_configuration"][0]["ipv4_enabled"] is False
    assert "authorized_networks" not in settings["ip_configuration"][0]
    assert instance["deletion_protection"] is True and settings["deletion_protection_enabled"] is True
    assert settings["insights_config"][0]["query_insights_enabled"] is True


def test_production_runs_cloud_sql_and_redis_highly_available() -> None:
    instance = resources(TERRAFORM / "modules" / "cloud_sql", "google_sql_database_instance")["postgres"]
    assert instance["settings"][0]["availability_type"] == '${var.high_availability ? "REGIONAL" : "ZONAL"}'
    redis = resources(TERRAFORM / "modules" / "redis", "google_redis_instance")["cache"]
    assert redis["tier"] == '${var.high_availability ? "STANDARD_HA" : "BASIC"}'
    assert redis["auth_enabled"] is True and unquote(redis["transit_encryption_mode"]) == "SERVER_AUTHENTICATION"
    arguments = production_platform_arguments()
    assert arguments["database"]["high_availability"] is True
    assert arguments["redis"]["high_availability"] is True
    assert arguments["api"]["min_instances"] >= 2


def test_cloud_armor_is_attached_to_the_backend_and_closes_metrics() -> None:
    backend = resources(TERRAFORM / "modules" / "load_balancer", "google_compute_backend_service")["api"]
    assert backend["security_policy"] == "${var.security_policy_id}"
    assert unquote(backend["load_balancing_scheme"]) == "EXTERNAL_MANAGED"
    call = blocks(TERRAFORM / "platform", "module")["load_balancer"]
    assert call["security_policy_id"] == "${module.cloud_armor.policy_id}"
    policy = (TERRAFORM / "modules" / "cloud_armor" / "main.tf").read_text()
    assert "request.path.startsWith('/metrics')" in policy
    for rule_set in ("sqli-v33-stable", "xss-v33-stable", "lfi-v33-stable"):
        assert f'"{rule_set}"' in policy
    assert 'action      = "rate_based_ban"' in policy


def test_https_only_with_a_managed_certificate_and_a_restricted_tls_policy() -> None:
    lb = TERRAFORM / "modules" / "load_balancer"
    assert resources(lb, "google_compute_url_map")["redirect"]["default_url_redirect"][0]["https_redirect"] is True
    assert unquote(resources(lb, "google_compute_ssl_policy")["restricted"]["profile"]) == "RESTRICTED"
    proxy = resources(lb, "google_compute_target_https_proxy")["api"]
    assert proxy["ssl_policy"] == "${google_compute_ssl_policy.restricted.id}"


def test_no_bucket_is_public() -> None:
    buckets = all_resources("google_storage_bucket")
    assert len(buckets) >= 3
    for name, bucket in buckets.items():
        if name.startswith(".."):
            continue
        assert unquote(bucket["public_access_prevention"]) == "enforced", name
        assert bucket["uniform_bucket_level_access"] is True, name
        assert bucket["versioning"][0]["enabled"] is True, name
    everything = "\n".join(code(directory) for directory in MODULE_DIRS)
    assert "allUsers" not in everything and "allAuthenticatedUsers" not in everything


def test_no_service_account_keys_and_deploys_only_through_workload_identity() -> None:
    everything = "\n".join(code(directory) for directory in MODULE_DIRS)
    assert "google_service_account_key" not in everything
    provider = resources(TERRAFORM / "modules" / "workload_identity", "google_iam_workload_identity_pool_provider")
    condition = unquote(provider["github"]["attribute_condition"])
    subjects = re.findall(r"assertion\.sub == '([^']+)'", condition)
    repository = "repo:${var.github_owner}/${var.github_repository}:environment:"
    assert subjects and all(subject.startswith(repository) for subject in subjects)
    mapping = {unquote(key): unquote(value) for key, value in provider["github"]["attribute_mapping"].items()}
    assert mapping["google.subject"] == "assertion.sub"


def test_cloud_run_is_reachable_only_through_the_load_balancer() -> None:
    services = resources(TERRAFORM / "modules" / "cloud_run", "google_cloud_run_v2_service")
    assert unquote(services["api"]["ingress"]) == "INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER"
    assert services["api"]["default_uri_disabled"] is True
    assert unquote(services["worker"]["ingress"]) == "INGRESS_TRAFFIC_INTERNAL_ONLY"
    assert services["worker"]["default_uri_disabled"] is True
    for name, service in services.items():
        template = service["template"][0]
        assert template["service_account"].startswith("${google_service_account.workload["), name
        assert unquote(template["vpc_access"][0]["egress"]) == "PRIVATE_RANGES_ONLY"
    probes = services["api"]["template"][0]["containers"][0]
    assert unquote(probes["startup_probe"][0]["http_get"][0]["path"]) == "/health/ready"
    assert unquote(probes["liveness_probe"][0]["http_get"][0]["path"]) == "/health/live"


# ---- checkov: once per session, over deploy/terraform, the Dockerfile and a deliberately bad canary -----


@pytest.fixture(scope="session")
def checkov_report(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    """One checkov run over a copy of deploy/terraform, the Dockerfile and the canary (checkov mixes -d and -f
    badly, and with several -d it does not always report each directory)."""
    checkov = require_tool(CHECKOV, "checkov (scripts/install-ship-tools.sh)")
    scanned = tmp_path_factory.mktemp("checkov")
    shutil.copytree(TERRAFORM, scanned / "terraform", ignore=shutil.ignore_patterns(".terraform"))
    shutil.copytree(CANARY, scanned / "checkov_canary")
    shutil.copy(DOCKERFILE, scanned / "Dockerfile")
    result = subprocess.run(
        [checkov, "--skip-download", "--quiet", "--output", "json", "--framework", "terraform", "dockerfile",
         "-d", str(scanned)],
        capture_output=True, text=True, timeout=600, cwd=scanned,
    )  # fmt: skip
    assert result.stdout, result.stderr[-3000:]
    report = json.loads(result.stdout)
    return report if isinstance(report, list) else [report]


def failed_checks(report: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [check for section in report for check in section["results"]["failed_checks"]]


def test_checkov_passes_on_terraform_and_the_dockerfile(checkov_report: list[dict[str, Any]]) -> None:
    ours = [
        f"{c['check_id']} {c['resource']} ({c['file_path']})"
        for c in failed_checks(checkov_report)
        if "checkov_canary" not in c["file_abs_path"]
    ]
    assert ours == []
    frameworks = {section["check_type"] for section in checkov_report}
    assert {"terraform", "dockerfile"} <= frameworks
    passed = sum(section["summary"]["passed"] for section in checkov_report)
    assert passed > 100


def test_checkov_still_finds_what_it_is_for(checkov_report: list[dict[str, Any]]) -> None:
    caught = {c["check_id"] for c in failed_checks(checkov_report) if "checkov_canary" in c["file_abs_path"]}
    assert {"CKV_GCP_114", "CKV_GCP_29", "CKV_GCP_11", "CKV_GCP_14"} <= caught, caught


def test_every_checkov_skip_is_justified() -> None:
    skips = [
        (path, line)
        for path in [*TF_FILES, DOCKERFILE]
        for line in path.read_text().splitlines()
        if "checkov:skip=" in line
    ]
    assert skips
    for path, line in skips:
        match = re.search(r"checkov:skip=(CKV2?_[A-Z]+_\d+):(.{20,})", line)
        assert match, f"{path}: skip without a reason: {line.strip()}"


def test_the_database_size_warning_uses_productions_disk_ceiling() -> None:
    limit = production_platform_arguments()["database"]["disk_autoresize_limit_gb"]
    rules = (ROOT / "deploy" / "prometheus" / "rules" / "capacity.yml").read_text()
    assert f">= 0.8 * {limit} * 1024 ^ 3" in rules


@pytest.mark.parametrize("env", ["staging", "production"])
def test_the_fleet_at_full_scale_fits_in_max_connections(env: str) -> None:
    """The sizing rule of docs/infrastructure.md, which the platform's validation enforces at plan time."""
    arguments = blocks(TERRAFORM / "envs" / env, "module")["platform"]
    api, worker, database = arguments["api"], arguments["worker"], arguments["database"]
    needed = api["max_instances"] * api["workers"] * 6 + worker["max_instances"] * (worker["concurrency"] + 1) + 10
    assert needed <= database["max_connections"], (needed, database["max_connections"])
    validation = blocks(TERRAFORM / "platform", "variable")["database"]["validation"][0]["condition"]
    assert "var.api.max_instances * var.api.workers * 6" in validation
    assert "var.worker.max_instances * (var.worker.concurrency + 1)" in validation
