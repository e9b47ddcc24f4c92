"""deploy/Dockerfile, checked without building it: stages, targets, users, entrypoints,
copied paths, pinned base image and the pins the image installs."""

import json
import re
import shlex

import pytest
from deploy_support import (  # type: ignore[import-not-found]  # on sys.path under pytest only
    DEPLOY,
    OPENSQT_SERVICES,
    REPO,
    load_compose,
    parse_dockerfile,
    pyproject,
    resolve_base,
)


@pytest.fixture(scope="module")
def dockerfile():
    return parse_dockerfile()


def _exec_form(argument: str) -> list[str]:
    value = json.loads(argument)
    assert isinstance(value, list), f"not the exec form: {argument}"
    return [str(item) for item in value]


def test_one_target_per_service(dockerfile) -> None:
    names = [stage.name for stage in dockerfile.stages]
    assert len(names) == len(set(names))
    assert set(OPENSQT_SERVICES) <= set(names)
    for name in OPENSQT_SERVICES:
        assert [stage.name for stage in dockerfile.chain(name)] == ["runtime", name]


def test_base_image_is_pinned_python_311_slim(dockerfile) -> None:
    base = dockerfile.global_args["PYTHON_IMAGE"]
    assert re.fullmatch(r"python:3\.11\.\d+-slim-bookworm(@sha256:[0-9a-f]{64})?", base)
    assert pyproject()["project"]["requires-python"].startswith(">=3.11,<3.12")
    external = {resolve_base(dockerfile, stage.base) for stage in dockerfile.stages} - {
        stage.name for stage in dockerfile.stages
    }
    assert external == {base}, "every stage starts from the pinned Python image or another stage"


def test_targets_run_as_an_unprivileged_user(dockerfile) -> None:
    runtime = dockerfile.stage("runtime")
    commands = " ".join(argument for keyword, argument in runtime.instructions if keyword == "RUN")
    assert "useradd --system --uid 10001 --gid 10001" in commands
    for name in OPENSQT_SERVICES:
        user = dockerfile.effective(name, "USER")
        assert user == "10001:10001"
        # Nothing after the USER switch goes back to root.
        assert all(
            argument != "root"
            for keyword, argument in dockerfile.stage(name).instructions
            if keyword == "USER"
        )


def test_entrypoints_are_the_console_scripts(dockerfile) -> None:
    scripts = pyproject()["project"]["scripts"]
    for name in OPENSQT_SERVICES:
        entrypoint = _exec_form(dockerfile.effective(name, "ENTRYPOINT") or "null")
        assert entrypoint == [f"opensqt-{name}"]
        assert entrypoint[0] in scripts


def test_default_commands_and_health_checks_match_compose(dockerfile) -> None:
    services = load_compose()["services"]
    for name, (grpc_port, metrics_port, health_service) in OPENSQT_SERVICES.items():
        command = _exec_form(dockerfile.effective(name, "CMD") or "null")
        assert command[:2] == ["--listen", f"0.0.0.0:{grpc_port}"]
        assert command[-2:] == ["--metrics-port", str(metrics_port)]
        expose = (dockerfile.effective(name, "EXPOSE") or "").split()
        assert expose == [str(grpc_port), str(metrics_port)]
        healthcheck = dockerfile.effective(name, "HEALTHCHECK") or ""
        options, _, test = healthcheck.partition(" CMD ")
        assert re.search(r"--interval=\d+s", options)
        assert _exec_form(test) == services[name]["healthcheck"]["test"][1:]
        assert health_service in test


def test_copied_paths_exist(dockerfile) -> None:
    for stage in dockerfile.stages:
        for keyword, argument in stage.instructions:
            if keyword not in ("COPY", "ADD"):
                continue
            parts = shlex.split(argument)
            if any(part.startswith("--from=") for part in parts):
                continue
            sources = [part for part in parts if not part.startswith("--")][:-1]
            for source in sources:
                assert (REPO / source).exists(), f"{stage.name}: COPY source {source} does not exist"


def test_wheel_contents_are_copied(dockerfile) -> None:
    copied = {
        shlex.split(argument)[0].rstrip("/")
        for keyword, argument in dockerfile.stage("build").instructions
        if keyword == "COPY"
    }
    packages = pyproject()["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"]
    for package in packages:
        assert any(package == path or package.startswith(path + "/") for path in copied), package
    assert {"pyproject.toml", "requirements.lock", "README.md"} <= set(
        shlex.split(next(a for k, a in dockerfile.stage("build").instructions if k == "COPY"))[:-1]
    )


def test_runtime_dependencies_are_pinned_by_the_lock() -> None:
    """The image installs with --constraint requirements.lock: every runtime dependency is in it."""
    lock = {}
    for line in (REPO / "requirements.lock").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            lock[re.sub(r"[-_.]+", "-", name).lower()] = version
    for requirement in pyproject()["project"]["dependencies"]:
        name, _, version = requirement.partition("==")
        assert lock.get(re.sub(r"[-_.]+", "-", name).lower()) == version, requirement
    build = " ".join(a for k, a in parse_dockerfile().stage("build").instructions if k == "RUN")
    assert "--constraint requirements.lock" in build
    assert "pip check" in build


def test_build_context_excludes_secrets_and_local_state() -> None:
    ignore = (DEPLOY / "Dockerfile.dockerignore").read_text().splitlines()
    for pattern in ("deploy/secrets", ".env", "**/.venv", "**/.git", "data"):
        assert pattern in ignore
