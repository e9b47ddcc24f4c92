"""The risk config: the example file, exact numbers, env overrides, errors that name the field."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from opensqt.exchange.v1 import types_pb2 as exchange_pb2
from opensqt_common.enums import TradingState
from opensqt_common.settings import load_settings
from opensqt_risk.config import ConfigError, load_config
from opensqt_risk.rules import DetectorMode
from opensqt_risk.settings import RiskSettings

EXAMPLE = Path(__file__).resolve().parents[3] / "configs" / "risk.yaml"


@pytest.fixture(autouse=True)
def _no_risk_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("OPENSQT_RISK_"):
            monkeypatch.delenv(name)


def test_example_config_loads_with_every_limit_exact() -> None:
    config = load_config(EXAMPLE)
    limits = config.default_limits()
    assert limits.max_order_quantity == Decimal("0.01")
    assert str(limits.price_band) == "0.05"  # the text as written, not a binary float
    assert limits.max_order_notional == Decimal(100)
    assert limits.drawdown_state is TradingState.HALTED
    assert config.traded_symbols == ("BTC/USDT:USDT",)
    assert config.crash_detector.interval_proto == exchange_pb2.KLINE_INTERVAL_1M
    detector = config.crash_detector.build(config.traded_symbols)
    assert detector is not None
    assert detector.symbols == ("BTC/USDT:USDT",)
    assert detector.mode is DetectorMode.ALL
    assert config.initial_trading_state is TradingState.ACTIVE


def test_example_documents_every_limit() -> None:
    text = EXAMPLE.read_text()
    for name in (
        "max_order_quantity",
        "max_position",
        "max_order_notional",
        "max_open_orders",
        "price_band",
        "max_order_rate",
        "stale_after_seconds",
        "drawdown_limit",
        "drawdown_state",
        "max_leverage",
        "min_slots",
    ):
        assert f"  {name}:" in text, name


def test_symbol_overrides_apply_on_top_of_the_defaults(tmp_path: Path) -> None:
    path = tmp_path / "risk.yaml"
    path.write_text(
        "limits:\n  max_position: 1\n  price_band: 0.02\n"
        "symbols:\n  ETH/USDT:USDT:\n    max_position: 20\n    max_order_rate: 2.5\n"
    )
    config = load_config(path)
    eth = config.symbol_limits()["ETH/USDT:USDT"]
    assert eth.max_position == Decimal(20)
    assert eth.max_order_rate_per_second == Decimal("2.5")
    assert eth.price_band == Decimal("0.02")
    assert config.default_limits().max_position == Decimal(1)


def test_env_overrides_win_over_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "risk.yaml"
    path.write_text("limits:\n  max_position: 1\n  max_order_quantity: 0.5\ninitial_state: active\n")
    monkeypatch.setenv("OPENSQT_RISK_LIMITS__MAX_POSITION", "0.25")
    monkeypatch.setenv("OPENSQT_RISK_CRASH_DETECTOR__MULTIPLIER", "4")
    monkeypatch.setenv("OPENSQT_RISK_INITIAL_STATE", "halted")
    config = load_config(path)
    assert config.default_limits().max_position == Decimal("0.25")
    assert config.default_limits().max_order_quantity == Decimal("0.5")
    assert config.crash_detector.multiplier == Decimal(4)
    assert config.initial_trading_state is TradingState.HALTED


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("limits:\n  price_band: 1.5\n", "price_band"),
        ("limits:\n  max_open_orders: 0\n", "max_open_orders"),
        ("limits:\n  drawdown_state: active\n", "drawdown_state"),
        ("limits:\n  max_positon: 1\n", "max_positon"),
        ("symbols:\n  ETH/USDT:USDT:\n    drawdown_limit: 5\n", "drawdown_limit"),
        ("symbols:\n  ETH/USDT:USDT:\n    max_position: -1\n", "symbols.ETH/USDT:USDT"),
        ("symbols:\n  btc-usdt: {}\n", "btc-usdt"),
        ("crash_detector:\n  symbols: [BTC/USDT:USDT]\n  recovery_threshold: 2\n", "recovery_threshold"),
        ("crash_detector:\n  interval: 2m\n", "interval"),
        ("limits:\n  max_position: .nan\n", "not a finite decimal"),
        ("- a list\n", "mapping"),
        ("limits: [\n", "invalid YAML"),
    ],
)
def test_bad_config_is_refused_naming_the_field(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "risk.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=r"risk\.yaml") as caught:
        load_config(path)
    assert expected in str(caught.value)


def test_binary_floats_are_refused_outside_yaml(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENSQT_RISK_SYMBOLS", '{"ETH/USDT:USDT": {"max_position": 0.1}}')
    with pytest.raises(ConfigError, match="never as binary floats"):
        load_config(None)
    monkeypatch.setenv("OPENSQT_RISK_SYMBOLS", '{"ETH/USDT:USDT": {"max_position": "0.1"}}')
    assert load_config(None).symbol_limits()["ETH/USDT:USDT"].max_position == Decimal("0.1")


def test_missing_config_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_config(tmp_path / "absent.yaml")


def test_settings_flags_and_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENSQT_RISK_ACCOUNT_POLL_SECONDS", "0.5")
    settings = load_settings(RiskSettings, ["--listen", "127.0.0.1:0", "--connector", "localhost:50051"])
    assert settings.account_poll_seconds == 0.5
    assert settings.in_flight_timeout_ns == 10_000_000_000
    assert settings.venue_free_nets_open_orders is True
    assert settings.klines_required is True
    assert str(settings.audit_log) == "data/risk-audit.jsonl"
    with pytest.raises(ValueError, match="host:port"):
        RiskSettings.model_validate({"connector": "nowhere"})
