"""`opensqt-connector` / `python -m opensqt_connector`: parse settings, serve until SIGTERM."""

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
from opensqt_connector.app import SERVICE_NAME, Connector, ConnectorStartError
from opensqt_connector.settings import ConnectorSettings, VenueCredentials

_log = get_logger("opensqt_connector")

EXIT_USAGE = 2
EXIT_START_FAILED = 1


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        settings = load_settings(ConnectorSettings, args)
        credentials = VenueCredentials.load()
    except (ValidationError, SettingsError) as exc:
        print(f"opensqt-connector: invalid settings:\n{describe_settings_error(exc)}", file=sys.stderr)
        return EXIT_USAGE
    configure_logging(SERVICE_NAME, settings.log_level, settings.log_format)
    try:
        asyncio.run(_serve(settings, credentials))
    except ConnectorStartError as exc:
        _log.error("connector_start_failed", error=str(exc))
        print(f"opensqt-connector: {exc}", file=sys.stderr)
        return EXIT_START_FAILED
    return 0


async def _serve(settings: ConnectorSettings, credentials: VenueCredentials) -> None:
    telemetry = setup_telemetry(SERVICE_NAME, metrics_port=settings.metrics_port)
    if telemetry.metrics_port is not None:
        _log.info("metrics_listening", port=telemetry.metrics_port, path="/metrics")
    try:
        connector = Connector(settings, credentials)
        await connector.start()
        tune_gc_after_start()
        await connector.serve_until_signal()
    finally:
        telemetry.shutdown()


if __name__ == "__main__":
    sys.exit(main())
