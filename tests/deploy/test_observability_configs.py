"""Prometheus, OpenTelemetry Collector and Grafana configuration, checked structurally
against each other, against the compose file and against the metric contract in
docs/metrics.md."""

import json
import re
from typing import Any
from urllib.parse import urlparse

import pytest
import yaml
from deploy_support import (  # type: ignore[import-not-found]  # on sys.path under pytest only
    DEPLOY,
    OPENSQT_SERVICES,
    documented_metrics,
    env_mapping,
    host_path_of,
    load_compose,
    option_value,
    parse_volume,
    prometheus_builtin_metrics,
    promql_metric_names,
)

# The metric names the services are told to emit (issue "Deploy and observe").
CONTRACT = {
    "opensqt_connector_orders_total": ("counter", {"venue", "symbol", "side", "result", "reason"}),
    "opensqt_connector_order_entry_latency_milliseconds": ("histogram", {"venue", "entry", "result"}),
    "opensqt_connector_stream_subscribers": ("gauge", {"stream"}),
    "opensqt_connector_stream_slow_disconnects_total": ("counter", {"stream"}),
    "opensqt_connector_venue_stream_reconnects_total": ("counter", {"venue", "stream"}),
    "opensqt_connector_venue_breaker_transitions_total": ("counter", {"venue", "state"}),
    "opensqt_risk_decisions_total": ("counter", {"approved", "reason"}),
    "opensqt_risk_review_latency_milliseconds": ("histogram", set()),
    "opensqt_risk_trading_state": ("gauge", set()),
    "opensqt_engine_last_price": ("gauge", {"symbol"}),
    "opensqt_engine_slots": ("gauge", {"state"}),
    "opensqt_engine_open_orders": ("gauge", set()),
    "opensqt_engine_fills_total": ("counter", {"side"}),
    "opensqt_engine_realized_pnl": ("gauge", set()),
    "opensqt_engine_tick_to_order_latency_milliseconds": ("histogram", set()),
}
HISTOGRAM_SERIES = ("_bucket", "_sum", "_count")


@pytest.fixture(scope="module")
def services() -> Any:
    return load_compose()["services"]


@pytest.fixture(scope="module")
def prometheus() -> Any:
    return yaml.safe_load((DEPLOY / "prometheus.yml").read_text())


@pytest.fixture(scope="module")
def otel() -> Any:
    return yaml.safe_load((DEPLOY / "otel-collector.yaml").read_text())


@pytest.fixture(scope="module")
def dashboard() -> Any:
    return json.loads((DEPLOY / "grafana" / "dashboards" / "opensqt.json").read_text())


def _mounted(service: dict[str, Any], source: str) -> str:
    for spec in service["volumes"]:
        mount = parse_volume(spec)
        if mount.source == source:
            return str(mount.target)
    raise AssertionError(f"{source} is not mounted")


def _seconds(duration: str) -> float:
    match = re.fullmatch(r"(\d+)(ms|s|m|h)", duration)
    assert match, duration
    return int(match.group(1)) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[match.group(2)]


# --- the metric contract -----------------------------------------------------------


def test_metrics_doc_is_the_contract() -> None:
    documented = documented_metrics()
    assert set(documented) == set(CONTRACT)
    for name, (kind, labels) in CONTRACT.items():
        metric = documented[name]
        assert metric.kind == kind, name
        assert metric.labels == labels, name
        assert name.startswith(f"opensqt_{metric.service}_")
        if kind == "counter":
            assert name.endswith("_total")
        if kind == "histogram":
            assert name.endswith("_milliseconds")
            assert metric.unit == "ms"
    assert prometheus_builtin_metrics() == {"up"}


# --- Prometheus ------------------------------------------------------------------------


def test_prometheus_scrapes_every_service_on_its_metrics_port(prometheus, services, otel) -> None:
    interval = _seconds(prometheus["global"]["scrape_interval"])
    assert _seconds(prometheus["global"]["scrape_timeout"]) <= interval
    jobs = {job["job_name"]: job for job in prometheus["scrape_configs"]}
    assert len(jobs) == len(prometheus["scrape_configs"]), "job names are unique"
    targets = {
        name: [target for static in job["static_configs"] for target in static["targets"]]
        for name, job in jobs.items()
    }
    for name, (_, metrics_port, _) in OPENSQT_SERVICES.items():
        assert targets[f"opensqt-{name}"] == [f"{name}:{metrics_port}"]
        assert option_value(services[name]["command"], "--metrics-port") == str(metrics_port)
    reader = otel["service"]["telemetry"]["metrics"]["readers"][0]
    telemetry_port = reader["pull"]["exporter"]["prometheus"]["port"]
    exporter_port = otel["exporters"]["prometheus"]["endpoint"].rsplit(":", 1)[1]
    assert targets["otel-collector"] == [f"otel-collector:{telemetry_port}"]
    assert targets["otel-collector-export"] == [f"otel-collector:{exporter_port}"]
    for job_targets in targets.values():
        for target in job_targets:
            assert target.split(":")[0] in services, f"{target} is not a compose service"


def test_prometheus_config_is_mounted_where_the_command_reads_it(services) -> None:
    service = services["prometheus"]
    target = _mounted(service, "./prometheus.yml")
    assert f"--config.file={target}" in service["command"]


# --- OpenTelemetry Collector ---------------------------------------------------------------


def test_collector_pipelines_use_only_defined_components(otel) -> None:
    kinds = ("receivers", "processors", "exporters")
    used: dict[str, set[str]] = {kind: set() for kind in kinds}
    pipelines = otel["service"]["pipelines"]
    assert set(pipelines) == {"traces", "metrics"}
    for name, pipeline in pipelines.items():
        assert pipeline["receivers"], name
        assert pipeline["exporters"], name
        for kind in kinds:
            for component in pipeline.get(kind, []):
                assert component in otel[kind], f"{name} uses undefined {kind[:-1]} {component}"
                used[kind].add(component)
        assert pipeline["processors"][0] == "memory_limiter", "memory_limiter goes first"
        assert pipeline["processors"][-1] == "batch", "batch goes last"
    for kind in kinds:
        assert used[kind] == set(otel[kind]), f"unused {kind}: {set(otel[kind]) - used[kind]}"
    assert set(otel["service"]["extensions"]) == set(otel["extensions"])


def test_collector_endpoints_match_compose(otel, services) -> None:
    grpc_endpoint = otel["receivers"]["otlp"]["protocols"]["grpc"]["endpoint"]
    assert grpc_endpoint == "0.0.0.0:4317"
    for name in OPENSQT_SERVICES:
        url = urlparse(env_mapping(services[name]["environment"])["OTEL_EXPORTER_OTLP_ENDPOINT"])
        assert (url.scheme, url.hostname, url.port) == ("http", "otel-collector", 4317)
    jaeger = otel["exporters"]["otlp/jaeger"]
    assert jaeger["endpoint"] == "jaeger:4317"
    assert "jaeger" in services
    assert "otlp/jaeger" in otel["service"]["pipelines"]["traces"]["exporters"]
    assert "prometheus" in otel["service"]["pipelines"]["metrics"]["exporters"]
    collector = services["otel-collector"]
    config_target = _mounted(collector, "./otel-collector.yaml")
    assert collector["command"] == [f"--config={config_target}"]


# --- Grafana -----------------------------------------------------------------------------


def test_grafana_provisioning_points_at_the_stack(services) -> None:
    grafana = services["grafana"]
    provisioning = DEPLOY / "grafana" / "provisioning"
    assert _mounted(grafana, "./grafana/provisioning") == "/etc/grafana/provisioning"
    datasources = yaml.safe_load((provisioning / "datasources" / "opensqt.yaml").read_text())
    by_type = {source["type"]: source for source in datasources["datasources"]}
    assert set(by_type) == {"prometheus", "jaeger"}
    assert [s["name"] for s in datasources["datasources"] if s.get("isDefault")] == ["Prometheus"]
    prometheus_url = urlparse(by_type["prometheus"]["url"])
    assert (prometheus_url.hostname, prometheus_url.port) == ("prometheus", 9090)
    jaeger_url = urlparse(by_type["jaeger"]["url"])
    assert (jaeger_url.hostname, jaeger_url.port) == ("jaeger", 16686)
    providers = yaml.safe_load((provisioning / "dashboards" / "opensqt.yaml").read_text())["providers"]
    assert [provider["options"]["path"] for provider in providers] == [
        _mounted(grafana, "./grafana/dashboards")
    ]
    home = env_mapping(grafana["environment"])["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    home_path = host_path_of(grafana, home)
    assert home_path is not None
    assert home_path.is_file()


def test_dashboard_structure(dashboard) -> None:
    datasources = yaml.safe_load(
        (DEPLOY / "grafana" / "provisioning" / "datasources" / "opensqt.yaml").read_text()
    )["datasources"]
    prometheus_uid = next(s["uid"] for s in datasources if s["type"] == "prometheus")
    assert dashboard["uid"]
    assert dashboard["title"] == "OpenSQT"
    assert isinstance(dashboard["schemaVersion"], int)
    panels = dashboard["panels"]
    ids = [panel["id"] for panel in panels]
    assert len(ids) == len(set(ids))
    for panel in panels:
        grid = panel["gridPos"]
        assert grid["x"] >= 0, panel["title"]
        assert grid["w"] > 0, panel["title"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == {"type": "prometheus", "uid": prometheus_uid}, panel["title"]
        ref_ids = [target["refId"] for target in panel["targets"]]
        assert ref_ids, panel["title"]
        assert len(ref_ids) == len(set(ref_ids)), panel["title"]
        for target in panel["targets"]:
            assert target["expr"].strip(), panel["title"]
            assert target["datasource"]["uid"] == prometheus_uid


def _panel_exprs(dashboard: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        (panel["title"], target["expr"])
        for panel in dashboard["panels"]
        if panel["type"] != "row"
        for target in panel["targets"]
    ]


def test_dashboard_queries_only_documented_metrics(dashboard) -> None:
    documented = documented_metrics()
    allowed = set(prometheus_builtin_metrics())
    for name, metric in documented.items():
        allowed.add(name)
        if metric.kind == "histogram":
            allowed.update(name + suffix for suffix in HISTOGRAM_SERIES)
    used: set[str] = set()
    for title, expr in _panel_exprs(dashboard):
        names = promql_metric_names(expr)
        assert names, f"{title}: no metric in {expr!r}"
        assert names <= allowed, f"{title}: undocumented {names - allowed}"
        bases = {name if name in documented else re.sub(r"_(bucket|sum|count)$", "", name) for name in names}
        metrics = [documented[base] for base in bases if base in documented]
        used.update(metric.name for metric in metrics)
        for metric in metrics:
            assert f'job="opensqt-{metric.service}"' in expr, f"{title}: select the direct scrape job"
        labels = set().union(*(metric.labels for metric in metrics)) | {"le", "job"}
        for group in re.findall(r"\bby \(([^)]*)\)", expr):
            grouped = {item.strip() for item in group.split(",")}
            assert grouped <= labels, f"{title}: groups by undocumented labels {grouped - labels}"
    assert set(documented) <= used, f"metrics without a panel: {set(documented) - used}"


def test_promql_name_extraction() -> None:
    expr = (
        "histogram_quantile(0.99, sum by (le) "
        '(rate(opensqt_risk_review_latency_milliseconds_bucket{job="opensqt-risk"}[$__rate_interval])))'
    )
    assert promql_metric_names(expr) == {"opensqt_risk_review_latency_milliseconds_bucket"}
    assert promql_metric_names('sum by (reason) (increase(a_total{x="y"}[5m])) / on (z) b') == {
        "a_total",
        "b",
    }


def test_dashboard_covers_the_required_views(dashboard) -> None:
    required = {
        "prices": "opensqt_engine_last_price",
        "slots by state": "opensqt_engine_slots",
        "open orders": "opensqt_engine_open_orders",
        "fills": "opensqt_engine_fills_total",
        "realised PnL": "opensqt_engine_realized_pnl",
        "risk state": "opensqt_risk_trading_state",
        "veto counts by reason": "opensqt_risk_decisions_total",
        "order-entry latency": "opensqt_connector_order_entry_latency_milliseconds_bucket",
        "stream reconnects": "opensqt_connector_venue_stream_reconnects_total",
    }
    exprs = [expr for _, expr in _panel_exprs(dashboard)]
    for view, metric in required.items():
        assert any(metric in promql_metric_names(expr) for expr in exprs), view
    assert any('approved="false"' in e and "by (reason)" in e for e in exprs), "vetoes by reason"
    heatmaps = [p for p in dashboard["panels"] if p["type"] == "heatmap"]
    assert any("order_entry_latency_milliseconds_bucket" in t["expr"] for p in heatmaps for t in p["targets"])
