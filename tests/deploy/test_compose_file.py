"""deploy/docker-compose.yml, checked without a Docker engine.

Schema (the official Compose Specification JSON schema, vendored), every file it
refers to, ports, pinned images, non-root users, health checks, restart policies,
profiles, secrets and the documented variables in deploy/.env.example.
"""

import copy
import hashlib
import json
import re
import subprocess
from typing import Any

import jsonschema
import pytest
from deploy_support import (  # type: ignore[import-not-found]  # on sys.path under pytest only
    COMPOSE_FILE,
    DEPLOY,
    ENV_EXAMPLE,
    OPENSQT_SERVICES,
    REPO,
    SCHEMA_FILE,
    docs_connector_override,
    env_mapping,
    host_path_of,
    interpolate,
    is_bind_source,
    load_compose,
    load_compose_raw,
    option_value,
    parse_dockerfile,
    parse_port,
    parse_volume,
    pyproject,
    read_env_file,
    strings_in,
    variables_in,
)

SCHEMA_SHA256 = "bc50c2d79102aed8df21b3a13e56c9396c7a06da6cff5ce37629f2ee7eb41735"

# Services whose images cannot run a health probe inside the container, and why.
# The test below also fails if one of them gains a healthcheck, so that this list
# stays true.
NO_HEALTHCHECK = {
    "otel-collector": "distroless image: no shell and no HTTP client; watched as up{job='otel-collector'}",
    "jaeger": "the image declares its own HEALTHCHECK",
}
# Variables Compose itself reads from .env (not substituted into the file).
COMPOSE_CLI_VARIABLES = {"COMPOSE_PROFILES"}


@pytest.fixture(scope="module")
def compose() -> Any:
    return load_compose()


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> Any:
    return compose["services"]


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft7Validator:
    schema = json.loads(SCHEMA_FILE.read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


def test_vendored_schema_is_the_recorded_copy() -> None:
    data = SCHEMA_FILE.read_bytes()
    assert len(data) == 74133
    assert hashlib.sha256(data).hexdigest() == SCHEMA_SHA256
    assert SCHEMA_SHA256 in SCHEMA_FILE.with_name("compose-spec.SOURCE.md").read_text()


def test_compose_file_is_valid_against_the_compose_specification(validator) -> None:
    for document in (load_compose_raw(), load_compose()):
        errors = sorted(validator.iter_errors(document), key=lambda e: list(e.path))
        assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)


def test_schema_rejects_what_compose_rejects(validator, compose) -> None:
    """The validator is live: an unknown service key or a malformed healthcheck fails it."""
    unknown_key = copy.deepcopy(compose)
    unknown_key["services"]["connector"]["helthcheck"] = {"test": ["CMD", "true"]}
    assert not validator.is_valid(unknown_key)
    bad_depends = copy.deepcopy(compose)
    bad_depends["services"]["engine"]["depends_on"]["risk"] = {"condition": "service_ready"}
    assert not validator.is_valid(bad_depends)


def test_every_variable_is_documented_in_env_example() -> None:
    used = set().union(*(variables_in(text) for text in strings_in(load_compose_raw())))
    documented = set(read_env_file(ENV_EXAMPLE))
    assert used - documented == set(), "used in docker-compose.yml but missing from .env.example"
    assert documented - used - COMPOSE_CLI_VARIABLES == set(), "in .env.example but unused"
    text = ENV_EXAMPLE.read_text()
    for name in documented:
        # Each variable sits in a paragraph that starts with a comment explaining it.
        paragraph = rf"#[^\n]*\n(?:(?:#[^\n]*|[A-Z_]+=[^\n]*)\n)*{name}="
        assert re.search(paragraph, text), f"{name} is not explained"


def test_profiles_full_and_connector_only(services) -> None:
    profiles = {name: set(service.get("profiles", [])) for name, service in services.items()}
    assert all(profiles.values()), "every service names its profiles"
    assert {name for name, p in profiles.items() if "full" in p} == set(services)
    assert {name for name, p in profiles.items() if "connector-only" in p} == {"connector"}
    assert read_env_file(ENV_EXAMPLE)["COMPOSE_PROFILES"] == "full"
    assert services["connector"].get("depends_on") is None, "the connector starts on its own"


def test_build_targets_exist_in_the_dockerfile(services) -> None:
    stages = {stage.name for stage in parse_dockerfile().stages}
    built = {name: service["build"] for name, service in services.items() if "build" in service}
    assert set(built) == set(OPENSQT_SERVICES)
    for name, build in built.items():
        context = (DEPLOY / build["context"]).resolve()
        assert context == REPO
        assert (context / build["dockerfile"]).resolve() == DEPLOY / "Dockerfile"
        assert build["target"] == name
        assert build["target"] in stages


def test_every_referenced_file_exists(services) -> None:
    declared_volumes = set(load_compose_raw().get("volumes", {}))
    for name, service in services.items():
        for spec in service.get("volumes", []):
            mount = parse_volume(spec)
            if is_bind_source(mount.source):
                assert (DEPLOY / mount.source).exists(), f"{name}: {mount.source} does not exist"
                assert mount.read_only, f"{name}: bind mount {mount.source} should be read-only"
            else:
                assert mount.source in declared_volumes, f"{name}: undeclared volume {mount.source}"
    engine_config = option_value(services["engine"]["command"], "--config")
    assert engine_config is not None
    config_path = host_path_of(services["engine"], engine_config)
    assert config_path is not None, "the engine's --config is not under a bind mount"
    assert config_path.is_file(), f"engine config {config_path} does not exist"
    assert config_path.is_relative_to(REPO / "configs")


def test_secrets_are_files_under_deploy_secrets_and_git_ignored() -> None:
    secrets = load_compose_raw()["secrets"]
    assert set(secrets) == {"api_key", "api_secret", "api_passphrase"}
    paths = []
    for name, secret in secrets.items():
        path = (DEPLOY / secret["file"]).resolve()
        assert path.parent == DEPLOY / "secrets"
        assert path.name == name, "the file in /run/secrets is named like the settings field"
        paths.append(path)
    paths.append(DEPLOY / ".env")
    result = subprocess.run(
        ["git", "check-ignore", "--no-index", *[str(path.relative_to(REPO)) for path in paths]],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    ignored = set(result.stdout.split())
    assert ignored == {str(path.relative_to(REPO)) for path in paths}, result.stderr


def test_secrets_reach_only_the_connector(services) -> None:
    assert services["connector"]["secrets"] == [
        {"source": "api_key", "target": "OPENSQT_CONNECTOR_API_KEY"},
        {"source": "api_secret", "target": "OPENSQT_CONNECTOR_API_SECRET"},
        {"source": "api_passphrase", "target": "OPENSQT_CONNECTOR_API_PASSPHRASE"},
    ]
    assert env_mapping(services["connector"]["environment"])["OPENSQT_SECRETS_DIR"] == "/run/secrets"
    for name, service in services.items():
        if name != "connector":
            assert "secrets" not in service, f"{name} gets secrets it does not need"
        for key in env_mapping(service.get("environment")):
            assert not re.search(r"API_(KEY|SECRET|PASSPHRASE)", key), f"{name}: {key} belongs in a secret"


def test_published_ports_bind_to_loopback(services) -> None:
    published = {}
    for name, service in services.items():
        for spec in service.get("ports", []):
            mapping = parse_port(spec)
            assert mapping.host_ip == "127.0.0.1", f"{name}: {spec} is published beyond this machine"
            published[name] = mapping
    assert set(published) == {"connector", "risk", "engine", "jaeger", "prometheus", "grafana"}
    for name, (grpc_port, metrics_port, _) in OPENSQT_SERVICES.items():
        assert published[name].target == grpc_port
        assert published[name].published == str(grpc_port)
        assert all(parse_port(spec).target != metrics_port for spec in services[name]["ports"])


def test_connector_publish_host_is_configurable() -> None:
    raw = load_compose_raw()["services"]["connector"]["ports"][0]
    env = read_env_file(ENV_EXAMPLE) | {"OPENSQT_CONNECTOR_PUBLISH_HOST": "10.1.2.3"}
    assert parse_port(interpolate(raw, env)).host_ip == "10.1.2.3"


def test_service_ports_and_addresses_match_the_defaults(services) -> None:
    for name, (grpc_port, metrics_port, health_service) in OPENSQT_SERVICES.items():
        command = services[name]["command"]
        assert option_value(command, "--listen") == f"0.0.0.0:{grpc_port}"
        assert option_value(command, "--metrics-port") == str(metrics_port)
        test = services[name]["healthcheck"]["test"]
        assert test[:4] == ["CMD", "python", "-m", "opensqt_common.healthcheck"]
        assert test[4] == f"127.0.0.1:{grpc_port}"
        assert option_value(test, "--service") == health_service
    for name in ("risk", "engine"):
        assert option_value(services[name]["command"], "--connector") == "connector:50051"
    assert option_value(services["engine"]["command"], "--risk") == "risk:50052"


def test_connector_defaults_to_sim_on_the_sandbox(services) -> None:
    command = services["connector"]["command"]
    assert option_value(command, "--exchange") == "sim"
    assert option_value(command, "--market") == "perp"
    assert option_value(command, "--symbols") == "BTC/USDT:USDT"
    env = env_mapping(services["connector"]["environment"])
    assert env["OPENSQT_CONNECTOR_SANDBOX"] == "true"
    raw = load_compose_raw()["services"]["connector"]
    # Without any .env the defaults are the same: sim on the sandbox.
    assert interpolate(option_value(raw["command"], "--exchange") or "", {}) == "sim"
    assert interpolate(env_mapping(raw["environment"])["OPENSQT_CONNECTOR_SANDBOX"], {}) == "true"


def test_engine_uses_postgres_and_otlp_goes_to_the_collector(services) -> None:
    env = env_mapping(services["engine"]["environment"])
    url = env["OPENSQT_DATABASE_URL"]
    assert url.startswith("postgresql://opensqt:")
    assert url.endswith("@postgres:5432/opensqt")
    postgres_env = env_mapping(services["postgres"]["environment"])
    assert postgres_env["POSTGRES_USER"] == "opensqt"
    assert postgres_env["POSTGRES_DB"] == "opensqt"
    for name in OPENSQT_SERVICES:
        endpoint = env_mapping(services[name]["environment"])["OTEL_EXPORTER_OTLP_ENDPOINT"]
        assert endpoint == "http://otel-collector:4317"
    # An empty value in .env turns OTLP off (no default substituted for an empty value).
    raw = load_compose_raw()["services"]["connector"]["environment"]["OTEL_EXPORTER_OTLP_ENDPOINT"]
    assert interpolate(raw, {"OTEL_EXPORTER_OTLP_ENDPOINT": ""}) == ""


def test_images_are_pinned(services) -> None:
    version = pyproject()["project"]["version"]
    for name, service in services.items():
        image = service["image"]
        assert ":" in image, f"{name}: {image} has no tag"
        assert not image.endswith(":latest"), f"{name}: {image} is not pinned"
        if name in OPENSQT_SERVICES:
            assert image == f"opensqt-{name}:{version}"
        else:
            # An exact release: x.y.z, or x.y where that is the whole version (PostgreSQL 17.6).
            assert re.search(r":v?\d+(\.\d+){1,2}(-[a-z0-9.]+)?$|@sha256:[0-9a-f]{64}$", image), (
                f"{name}: {image} is not an exact version"
            )
    base = parse_dockerfile().global_args["PYTHON_IMAGE"]
    assert re.fullmatch(r"python:3\.11\.\d+-slim(-\w+)?(@sha256:[0-9a-f]{64})?", base)


def test_every_service_runs_as_a_non_root_user(services) -> None:
    dockerfile = parse_dockerfile()
    for name, service in services.items():
        user = str(service.get("user", ""))
        assert user, f"{name} has no user"
        assert user.split(":")[0] not in {"root", "0"}, f"{name} runs as root"
    for name in OPENSQT_SERVICES:
        assert services[name]["user"] == dockerfile.effective(name, "USER") == "10001:10001"
        assert services[name]["read_only"] is True
        assert services[name]["cap_drop"] == ["ALL"]
        assert "no-new-privileges:true" in services[name]["security_opt"]


def test_health_checks_on_every_service(services) -> None:
    for name, service in services.items():
        if name in NO_HEALTHCHECK:
            assert "healthcheck" not in service, f"{name} now has a healthcheck: update NO_HEALTHCHECK"
            continue
        check = service.get("healthcheck")
        assert check, f"{name} has no healthcheck"
        assert not check.get("disable", False)
        assert check["test"][0] == "CMD", f"{name}: use the exec form"
        for key in ("interval", "timeout", "retries", "start_period"):
            assert key in check, f"{name}: healthcheck has no {key}"


def test_restart_policies_and_dependencies(services) -> None:
    for name, service in services.items():
        assert service.get("restart") == "unless-stopped", f"{name} has no restart policy"
        for dependency, condition in (service.get("depends_on") or {}).items():
            assert dependency in services
            if condition["condition"] == "service_healthy":
                assert "healthcheck" in services[dependency], f"{dependency} cannot become healthy"
    assert services["risk"]["depends_on"] == {"connector": {"condition": "service_healthy"}}
    assert set(services["engine"]["depends_on"]) == {"connector", "risk", "postgres"}
    assert all(c["condition"] == "service_healthy" for c in services["engine"]["depends_on"].values())


def test_engine_gets_time_to_cancel_its_orders(services) -> None:
    def seconds(text: str) -> int:
        match = re.fullmatch(r"(\d+)s", text)
        assert match, text
        return int(match.group(1))

    assert seconds(services["engine"]["stop_grace_period"]) >= 30
    assert all(services[name]["stop_signal"] == "SIGTERM" for name in OPENSQT_SERVICES)


def test_compose_file_header_documents_both_profiles() -> None:
    header = COMPOSE_FILE.read_text().split("\nname:", 1)[0]
    assert "docker compose up" in header
    assert "--profile connector-only" in header


def test_documented_remote_connector_override(validator, services) -> None:
    """The override docs/deploy.md shows for a connector reachable from other machines."""
    override = docs_connector_override()
    assert validator.is_valid(override), [e.message for e in validator.iter_errors(override)]
    connector = override["services"]["connector"]
    command = connector["command"]
    # It keeps the base command and adds auth and TLS.
    assert (
        command[: len(services["connector"]["command"])]
        == load_compose_raw()["services"]["connector"]["command"]
    )
    for option in ("--auth-token-file", "--tls-cert", "--tls-key"):
        value = option_value(command, option)
        assert value is not None
        name = value.removeprefix("/run/secrets/")
        assert name in connector["secrets"]
        assert (DEPLOY / override["secrets"][name]["file"]).resolve().parent == DEPLOY / "secrets"
    assert all(secret in connector["secrets"] for secret in services["connector"]["secrets"])
    test = connector["healthcheck"]["test"]
    assert option_value(test, "--tls-ca") == option_value(command, "--tls-cert")
    assert option_value(test, "--server-name")
