"""`opensqt-engine` / `python -m opensqt_engine`: parse settings and the grid config, trade until SIGTERM."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence

from pydantic import ValidationError
from pydantic_settings import SettingsError

from opensqt_common.gc_tuning import tune_gc_after_start
from opensqt_common.logging import configure_logging, get_logger
from opensqt_common.settings import describe_settings_error, load_settings
from opensqt_common.telemetry import setup_telemetry
from opensqt_engine.app import SERVICE_NAME, EngineApp, EngineStartError
from opensqt_engine.config import ConfigError, EngineConfig, load_config
from opensqt_engine.settings import EngineSettings

_log = get_logger("opensqt_engine")

EXIT_USAGE = 2
EXIT_START_FAILED = 1


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        settings = load_settings(EngineSettings, args)
    except (ValidationError, SettingsError) as exc:
        print(f"opensqt-engine: invalid settings:\n{describe_settings_error(exc)}", file=sys.stderr)
        return EXIT_USAGE
    try:
        config = load_config(settings.config)
    except ConfigError as exc:
        print(f"opensqt-engine: {exc}", file=sys.stderr)
        return EXIT_USAGE
    configure_logging(SERVICE_NAME, settings.log_level, settings.log_format)
    try:
        return asyncio.run(_serve(settings, config))
    except EngineStartError as exc:
        _log.error("engine_start_failed", error=str(exc))
        print(f"opensqt-engine: {exc}", file=sys.stderr)
        return EXIT_START_FAILED


async def _serve(settings: EngineSettings, config: EngineConfig) -> int:
    telemetry = setup_telemetry(SERVICE_NAME, metrics_port=settings.metrics_port)
    if telemetry.metrics_port is not None:
        _log.info("metrics_listening", port=telemetry.metrics_port, path="/metrics")
    try:
        app = EngineApp(settings, config)
        await app.start()
        tune_gc_after_start()
        await app.serve_until_signal()
        if app.failed is not None:
            print(f"opensqt-engine: {app.failed}", file=sys.stderr)
            return EXIT_START_FAILED
        return 0
    finally:
        telemetry.shutdown()


if __name__ == "__main__":
    sys.exit(main())
