"""Readers for the deploy/ files, shared by the tests in tests/deploy.

Nothing here needs Docker: the compose file is read as YAML and its variables are
substituted the way Compose does it (from deploy/.env.example), the Dockerfile is
split into stages, and docs/metrics.md is read as the metric contract.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
COMPOSE_FILE = DEPLOY / "docker-compose.yml"
ENV_EXAMPLE = DEPLOY / ".env.example"
DOCKERFILE = DEPLOY / "Dockerfile"
METRICS_DOC = REPO / "docs" / "metrics.md"
SCHEMA_FILE = Path(__file__).with_name("compose-spec.json")

# The three OpenSQT services: gRPC port, metrics port and the gRPC service whose
# health entry must read SERVING (the defaults of DESIGN.md and the issues).
OPENSQT_SERVICES: dict[str, tuple[int, int, str]] = {
    "connector": (50051, 9101, "opensqt.exchange.v1.ExchangeService"),
    "risk": (50052, 9102, "opensqt.risk.v1.RiskService"),
    "engine": (50053, 9103, "opensqt.engine.v1.EngineService"),
}


class InterpolationError(ValueError):
    """A ${VAR:?message} or ${VAR?message} whose variable is missing."""


_VARIABLE = re.compile(
    r"\$\$"  # escaped dollar
    r"|\$\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\}"
    r"|\$(?P<bare>[A-Za-z_][A-Za-z0-9_]*)"
)


def variables_in(text: str) -> set[str]:
    """Names of the variables a Compose string refers to."""
    names = set()
    for match in _VARIABLE.finditer(text):
        name = match.group("braced") or match.group("bare")
        if name:
            names.add(name)
    return names


def interpolate(text: str, env: Mapping[str, str]) -> str:
    """Substitute variables as Compose does.

    Forms: ${V}, $V, ${V:-d}, ${V-d}, ${V:?e}, ${V?e}, ${V:+a}, ${V+a}, and $$ for a dollar.
    """

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group("braced") or match.group("bare")
        op = match.group("op")
        arg = match.group("arg") or ""
        value = env.get(name)
        unset = value is None
        empty = unset or value == ""
        if op is None:
            return value or ""
        if op == ":-":
            return arg if empty else str(value)
        if op == "-":
            return arg if unset else str(value)
        if op in (":?", "?"):
            if (op == ":?" and empty) or (op == "?" and unset):
                raise InterpolationError(f"required variable {name} is missing a value: {arg}")
            return str(value)
        if op == ":+":
            return "" if empty else arg
        return "" if unset else arg  # "+"

    return _VARIABLE.sub(replace, text)


def interpolate_tree(node: Any, env: Mapping[str, str]) -> Any:
    """Substitute variables in every string value of a loaded YAML tree (keys stay as written)."""
    if isinstance(node, str):
        return interpolate(node, env)
    if isinstance(node, list):
        return [interpolate_tree(item, env) for item in node]
    if isinstance(node, dict):
        return {key: interpolate_tree(value, env) for key, value in node.items()}
    return node


def strings_in(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, list):
        for item in node:
            yield from strings_in(item)
    elif isinstance(node, dict):
        for value in node.values():
            yield from strings_in(value)


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines of a Compose env file (comments and blank lines skipped)."""
    values: dict[str, str] = {}
    for number, raw in enumerate(path.read_text().splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
            raise ValueError(f"{path}:{number}: not KEY=VALUE: {raw!r}")
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key] = value
    return values


def load_compose_raw() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE_FILE.read_text())
    assert isinstance(data, dict)
    return data


def load_compose() -> dict[str, Any]:
    """The compose file with its variables substituted from deploy/.env.example."""
    data = interpolate_tree(load_compose_raw(), read_env_file(ENV_EXAMPLE))
    assert isinstance(data, dict)
    return data


def env_mapping(environment: Any) -> dict[str, str]:
    """A service's `environment` (mapping or KEY=VALUE list) as a dict of strings."""
    if environment is None:
        return {}
    if isinstance(environment, dict):
        return {str(k): "" if v is None else str(v) for k, v in environment.items()}
    result = {}
    for item in environment:
        key, _, value = str(item).partition("=")
        result[key] = value
    return result


def option_value(argv: list[str], option: str) -> str | None:
    """The value of `--option VALUE` or `--option=VALUE` in an argument list."""
    for index, arg in enumerate(argv):
        if arg == option and index + 1 < len(argv):
            return argv[index + 1]
        if arg.startswith(option + "="):
            return arg.split("=", 1)[1]
    return None


@dataclass(frozen=True)
class PortMapping:
    host_ip: str
    published: str
    target: int


def parse_port(spec: str | int | dict[str, Any]) -> PortMapping:
    """A compose `ports` entry (short or long syntax)."""
    if isinstance(spec, dict):
        return PortMapping(str(spec.get("host_ip", "")), str(spec.get("published", "")), int(spec["target"]))
    text = str(spec).split("/", 1)[0]
    parts = text.rsplit(":", 2)
    if len(parts) == 3:
        return PortMapping(parts[0], parts[1], int(parts[2]))
    if len(parts) == 2:
        return PortMapping("", parts[0], int(parts[1]))
    return PortMapping("", "", int(parts[0]))


@dataclass(frozen=True)
class Mount:
    source: str
    target: str
    read_only: bool


def parse_volume(spec: str | dict[str, Any]) -> Mount:
    if isinstance(spec, dict):
        return Mount(str(spec.get("source", "")), str(spec["target"]), bool(spec.get("read_only", False)))
    parts = spec.split(":")
    mode = parts[2] if len(parts) > 2 else ""
    return Mount(parts[0], parts[1], "ro" in mode.split(","))


def is_bind_source(source: str) -> bool:
    return source.startswith((".", "/", "~"))


def host_path_of(service: Mapping[str, Any], container_path: str, workdir: str = "/app") -> Path | None:
    """The host path a container path of `service` resolves to through its bind mounts."""
    absolute = container_path if container_path.startswith("/") else f"{workdir.rstrip('/')}/{container_path}"
    best: tuple[int, Path] | None = None
    for spec in service.get("volumes", []):
        mount = parse_volume(spec)
        if not is_bind_source(mount.source):
            continue
        target = mount.target.rstrip("/")
        if absolute == target or absolute.startswith(target + "/"):
            rest = absolute[len(target) :].lstrip("/")
            candidate = (DEPLOY / mount.source / rest).resolve()
            if best is None or len(target) > best[0]:
                best = (len(target), candidate)
    return None if best is None else best[1]


# --- Dockerfile -------------------------------------------------------------------


@dataclass
class Stage:
    base: str
    name: str
    instructions: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class Dockerfile:
    global_args: dict[str, str]
    stages: list[Stage]

    def stage(self, name: str) -> Stage:
        for stage in self.stages:
            if stage.name == name:
                return stage
        raise KeyError(name)

    def chain(self, name: str) -> list[Stage]:
        """The stage and the stages it is built FROM, base first."""
        chain = [self.stage(name)]
        names = {stage.name for stage in self.stages}
        while chain[0].base in names:
            chain.insert(0, self.stage(chain[0].base))
        return chain

    def effective(self, name: str, instruction: str) -> str | None:
        """The last value of an instruction (USER, ENTRYPOINT, ...) in effect for a target."""
        value = None
        for stage in self.chain(name):
            for keyword, argument in stage.instructions:
                if keyword == instruction:
                    value = argument
        return value


def _logical_lines(text: str) -> Iterator[str]:
    current = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not current and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        current += line
        yield current
        current = ""
    if current:
        yield current


def parse_dockerfile(path: Path = DOCKERFILE) -> Dockerfile:
    global_args: dict[str, str] = {}
    stages: list[Stage] = []
    for line in _logical_lines(path.read_text()):
        keyword, _, argument = line.partition(" ")
        keyword = keyword.upper()
        argument = argument.strip()
        if keyword == "FROM":
            match = re.fullmatch(r"(?:--platform=\S+\s+)?(\S+)\s+AS\s+(\S+)", argument, flags=re.IGNORECASE)
            if match is None:
                raise ValueError(f"FROM without a stage name: {line!r}")
            stages.append(Stage(base=match.group(1), name=match.group(2)))
        elif not stages:
            if keyword == "ARG":
                name, _, default = argument.partition("=")
                global_args[name] = default
        else:
            stages[-1].instructions.append((keyword, argument))
    return Dockerfile(global_args, stages)


def resolve_base(dockerfile: Dockerfile, base: str) -> str:
    return interpolate(base, dockerfile.global_args)


# --- metrics contract ----------------------------------------------------------------


@dataclass(frozen=True)
class DocumentedMetric:
    name: str
    kind: str
    unit: str
    labels: frozenset[str]
    service: str


def documented_metrics() -> dict[str, DocumentedMetric]:
    """The table under '## Metrics' in docs/metrics.md."""
    metrics: dict[str, DocumentedMetric] = {}
    section = METRICS_DOC.read_text().split("## Metrics", 1)[1].split("\n## ", 1)[0]
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) < 6 or not cells[0].startswith("`"):
            continue
        name = cells[0].strip("`")
        labels = frozenset(label.strip().strip("`") for label in cells[3].split(",") if label.strip())
        metrics[name] = DocumentedMetric(name, cells[1], cells[2], labels, cells[4])
    return metrics


def prometheus_builtin_metrics() -> set[str]:
    section = METRICS_DOC.read_text().split("## Provided by Prometheus", 1)[1].split("\n## ", 1)[0]
    return {match.group(1) for match in re.finditer(r"^\|\s*`([a-z_:]+)`", section, flags=re.MULTILINE)}


_PROMQL_KEYWORDS = {
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "bool",
    "and",
    "or",
    "unless",
    "offset",
    "inf",
    "nan",
}


def promql_metric_names(expr: str) -> set[str]:
    """Metric names a PromQL expression selects (functions, labels and keywords removed)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # string literals
    text = re.sub(r"\{[^}]*\}", " ", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", " ", text)  # range and subquery selectors
    text = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    names = set()
    for match in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", text):
        word = match.group(0)
        following = text[match.end() :].lstrip()
        if following.startswith("(") or word.lower() in _PROMQL_KEYWORDS:
            continue
        names.add(word)
    return names


def pyproject() -> dict[str, Any]:
    return tomllib.loads((REPO / "pyproject.toml").read_text())


DEPLOY_DOC = REPO / "docs" / "deploy.md"


def docs_connector_override() -> dict[str, Any]:
    """The example override for a remotely reachable connector, from docs/deploy.md."""
    blocks = re.findall(r"```yaml\n(.*?)```", DEPLOY_DOC.read_text(), flags=re.DOTALL)
    matching = [block for block in blocks if "connector_auth_token" in block]
    assert len(matching) == 1, "docs/deploy.md has one YAML override for the remote connector"
    data = yaml.safe_load(matching[0])
    assert isinstance(data, dict)
    return data
