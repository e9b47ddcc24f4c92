"""`opensqt-risk` / `python -m opensqt_risk`: parse settings and config, serve until SIGTERM."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence

from pydantic import ValidationError
from pydantic_settings import SettingsError

from opensqt_common.gc_tuning import tune_gc_after_start
from opensqt_common.logging import configure_logging, get_logger
from opensqt_common.settings import load_settings
from opensqt_common.telemetry import setup_telemetry
from opensqt_risk.app import SERVICE_NAME, RiskApp, RiskStartError
from opensqt_risk.config import ConfigError, RiskConfig, describe_errors, load_config
from opensqt_risk.settings import RiskSettings

_log = get_logger("opensqt_risk")

EXIT_USAGE = 2
EXIT_START_FAILED = 1


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        settings = load_settings(RiskSettings, args)
    except (ValidationError, SettingsError) as exc:
        detail = describe_errors(exc) if isinstance(exc, ValidationError) else f"  {exc}"
        print(f"opensqt-risk: invalid settings:\n{detail}", file=sys.stderr)
        return EXIT_USAGE
    try:
        config = load_config(settings.config)
    except ConfigError as exc:
        print(f"opensqt-risk: {exc}", file=sys.stderr)
        return EXIT_USAGE
    configure_logging(SERVICE_NAME, settings.log_level, settings.log_format)
    try:
        asyncio.run(_serve(settings, config))
    except RiskStartError as exc:
        _log.error("risk_start_failed", error=str(exc))
        print(f"opensqt-risk: {exc}", file=sys.stderr)
        return EXIT_START_FAILED
    return 0


async def _serve(settings: RiskSettings, config: RiskConfig) -> None:
    telemetry = setup_telemetry(SERVICE_NAME, metrics_port=settings.metrics_port)
    if telemetry.metrics_port is not None:
        _log.info("metrics_listening", port=telemetry.metrics_port, path="/metrics")
    try:
        app = RiskApp(settings, config)
        await app.start()
        tune_gc_after_start()
        await app.serve_until_signal()
    finally:
        telemetry.shutdown()


if __name__ == "__main__":
    sys.exit(main())
