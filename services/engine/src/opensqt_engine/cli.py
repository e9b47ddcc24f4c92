"""`opensqt`: the operator's command line, over gRPC to the engine and the risk service.

    opensqt status      [--engine HOST:PORT]     the grid, its state, PnL, connections
    opensqt slots       [--engine HOST:PORT] [--all]
    opensqt pause       [--engine HOST:PORT] [--reason TEXT]
    opensqt resume      [--engine HOST:PORT] [--reason TEXT]
    opensqt cancel-all  [--engine HOST:PORT] [--reason TEXT]
    opensqt events      [--engine HOST:PORT] [--count N]
    opensqt halt        [--risk HOST:PORT] --reason TEXT [--reduce-only] [--operator NAME]
    opensqt resume-risk [--risk HOST:PORT] --reason TEXT [--operator NAME]

Defaults: engine 127.0.0.1:50053, risk 127.0.0.1:50052. Exit code 0 on success, 1 when
the service is unreachable or refuses, 2 on bad usage.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import grpc
from rich.console import Console
from rich.table import Table

from opensqt.common.v1 import common_pb2
from opensqt.engine.v1 import engine_service_pb2 as engine_pb
from opensqt.engine.v1 import engine_service_pb2_grpc
from opensqt.engine.v1 import types_pb2 as engine_types
from opensqt.risk.v1 import risk_service_pb2 as risk_pb
from opensqt.risk.v1 import risk_service_pb2_grpc
from opensqt.risk.v1 import types_pb2 as risk_types
from opensqt_common.server import AUTH_METADATA_KEY

if TYPE_CHECKING:
    from opensqt.engine.v1.engine_service_pb2_grpc import EngineServiceStub
    from opensqt.risk.v1.risk_service_pb2_grpc import RiskServiceStub

DEFAULT_ENGINE = "127.0.0.1:50053"
DEFAULT_RISK = "127.0.0.1:50052"
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class CliError(Exception):
    """A failure to report to the operator in one line."""


def _name(enum: Any, number: int, prefix: str) -> str:
    try:
        return str(enum.Name(number)).removeprefix(prefix).lower()
    except ValueError:
        return str(number)


def _dec(message: common_pb2.Decimal) -> str:
    return message.value or "-"


def _time(stamp: Any) -> str:
    if not stamp.seconds and not stamp.nanos:
        return "-"
    return datetime.fromtimestamp(stamp.seconds + stamp.nanos / 1e9, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def status_table(status: engine_types.EngineStatus) -> Table:
    table = Table(title=f"engine {status.strategy_id} on {status.symbol}", show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value")
    risk = _name(common_pb2.TradingState, status.risk_state, "TRADING_STATE_")
    rows = [
        ("state", _name(engine_types.EngineState, status.state, "ENGINE_STATE_")),
        ("risk", f"{risk} ({'connected' if status.risk_connected else 'UNREACHABLE'})"),
        ("connector", "connected" if status.connector_connected else "DISCONNECTED"),
        ("last price", _dec(status.last_price)),
        ("anchor", _dec(status.anchor_price)),
        ("interval / amount", f"{_dec(status.price_interval)} / {_dec(status.order_amount)}"),
        ("position", _dec(status.position)),
        ("realized pnl", _dec(status.realized_pnl)),
        ("fees paid", _dec(status.fees_paid)),
        ("open orders", str(status.open_orders)),
        ("slots free/pending/locked", f"{status.slots_free}/{status.slots_pending}/{status.slots_locked}"),
        ("fills", str(status.fills)),
        ("started", _time(status.started_at)),
        ("detail", status.detail or "-"),
    ]
    for field, value in rows:
        table.add_row(field, value)
    return table


def slots_table(slots: Sequence[engine_types.Slot]) -> Table:
    table = Table(title=f"{len(slots)} slots")
    for column in (
        "level",
        "price",
        "status",
        "position",
        "side",
        "order price",
        "qty",
        "filled",
        "client id",
    ):
        table.add_column(column, justify="right" if column not in ("status", "side", "client id") else "left")
    for slot in slots:
        live = slot.status != engine_types.SLOT_STATUS_FREE
        table.add_row(
            str(slot.level_index),
            _dec(slot.level_price),
            _name(engine_types.SlotStatus, slot.status, "SLOT_STATUS_"),
            _dec(slot.position_quantity),
            _name(common_pb2.Side, slot.order_side, "SIDE_") if live else "-",
            _dec(slot.order_price) if live else "-",
            _dec(slot.order_quantity) if live else "-",
            _dec(slot.filled_quantity) if live else "-",
            slot.client_order_id or "-",
        )
    return table


def state_table(update: risk_types.TradingStateUpdate) -> Table:
    table = Table(title="risk trading state", show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value")
    table.add_row("state", _name(common_pb2.TradingState, update.state, "TRADING_STATE_"))
    table.add_row("reason", update.reason or "-")
    table.add_row("source", _name(risk_types.StateSource, update.source, "STATE_SOURCE_"))
    table.add_row("since", _time(update.since))
    return table


def event_line(event: engine_types.EngineEvent) -> str:
    kind = _name(engine_types.EventKind, event.kind, "EVENT_KIND_")
    parts = [f"#{event.sequence}", _time(event.time), kind]
    if event.client_order_id:
        parts.append(event.client_order_id)
    if event.detail:
        parts.append(event.detail)
    return " ".join(parts)


class Clients:
    """Channels opened on demand, with a deadline and the bearer token when given."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self._channels: list[grpc.Channel] = []
        token = args.token_file.read_text().strip() if args.token_file is not None else ""
        self.metadata = ((AUTH_METADATA_KEY, f"Bearer {token}"),) if token else ()

    def _channel(self, target: str) -> grpc.Channel:
        channel = grpc.insecure_channel(target)
        self._channels.append(channel)
        return channel

    def engine(self) -> EngineServiceStub:
        return engine_service_pb2_grpc.EngineServiceStub(self._channel(self.args.engine))

    def risk(self) -> RiskServiceStub:
        return risk_service_pb2_grpc.RiskServiceStub(self._channel(self.args.risk))

    def close(self) -> None:
        for channel in self._channels:
            channel.close()


def _call(what: str, target: str, call: Callable[[], Any]) -> Any:
    try:
        return call()
    except grpc.RpcError as exc:
        failed = cast(grpc.Call, exc)  # errors raised by calls are grpc.Call objects too
        code, details = failed.code(), failed.details()
        if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
            raise CliError(
                f"cannot reach the {what} at {target}; is it running? ({details or code.name})"
            ) from None
        raise CliError(f"the {what} at {target} refused: {code.name}: {details}") from None


def run(args: argparse.Namespace, console: Console) -> int:
    clients = Clients(args)
    timeout = args.timeout
    md = clients.metadata
    try:
        command = args.command
        if command in ("status", "slots", "pause", "resume", "cancel-all", "events"):
            engine = clients.engine()
            target = args.engine
            if command == "status":
                response = _call(
                    "engine",
                    target,
                    lambda: engine.GetStatus(engine_pb.GetStatusRequest(), timeout=timeout, metadata=md),
                )
                console.print(status_table(response.status))
            elif command == "slots":
                request = engine_pb.ListSlotsRequest(active_only=not args.all)
                response = _call(
                    "engine", target, lambda: engine.ListSlots(request, timeout=timeout, metadata=md)
                )
                console.print(slots_table(response.slots))
            elif command == "pause":
                request_p = engine_pb.PauseRequest(reason=args.reason)
                response = _call(
                    "engine", target, lambda: engine.Pause(request_p, timeout=timeout, metadata=md)
                )
                console.print(status_table(response.status))
            elif command == "resume":
                request_r = engine_pb.ResumeRequest(reason=args.reason)
                response = _call(
                    "engine", target, lambda: engine.Resume(request_r, timeout=timeout, metadata=md)
                )
                console.print(status_table(response.status))
            elif command == "cancel-all":
                request_c = engine_pb.CancelAllRequest(reason=args.reason)
                response = _call(
                    "engine", target, lambda: engine.CancelAll(request_c, timeout=timeout, metadata=md)
                )
                console.print(
                    f"cancelled {response.canceled} orders; the grid is paused (opensqt resume to trade)"
                )
            else:
                stream = engine.StreamEvents(engine_pb.StreamEventsRequest(), metadata=md)
                done = False

                def read() -> None:
                    nonlocal done
                    for seen, item in enumerate(stream, start=1):
                        console.print(event_line(item.event))
                        if args.count and seen >= args.count:
                            done = True
                            stream.cancel()
                            return

                try:
                    _call("engine", target, read)
                except CliError:
                    if not done:
                        raise
            return EXIT_OK
        risk = clients.risk()
        operator = args.operator or getpass.getuser()
        if command == "halt":
            state = (
                common_pb2.TRADING_STATE_REDUCE_ONLY if args.reduce_only else common_pb2.TRADING_STATE_HALTED
            )
            request_h = risk_pb.HaltRequest(reason=args.reason, state=state, operator=operator)
            response = _call(
                "risk service", args.risk, lambda: risk.Halt(request_h, timeout=timeout, metadata=md)
            )
        else:
            request_u = risk_pb.ResumeRequest(reason=args.reason, operator=operator)
            response = _call(
                "risk service", args.risk, lambda: risk.Resume(request_u, timeout=timeout, metadata=md)
            )
        console.print(state_table(response.update))
        return EXIT_OK
    except CliError as exc:
        console.print(f"[red]opensqt: {exc}[/red]")
        return EXIT_FAILED
    finally:
        clients.close()


def parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--timeout", type=float, default=5.0, help="deadline of each call, seconds (default 5)"
    )
    common.add_argument("--token-file", type=Path, default=None, help="file with the bearer token to send")
    engine = argparse.ArgumentParser(add_help=False, parents=[common])
    engine.add_argument(
        "--engine", default=DEFAULT_ENGINE, help=f"engine HOST:PORT (default {DEFAULT_ENGINE})"
    )
    risk = argparse.ArgumentParser(add_help=False, parents=[common])
    risk.add_argument("--risk", default=DEFAULT_RISK, help=f"risk service HOST:PORT (default {DEFAULT_RISK})")
    risk.add_argument("--operator", default="", help="who does it (default: the current user)")
    top = argparse.ArgumentParser(prog="opensqt", description="Operate the OpenSQT engine and risk service.")
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser("status", parents=[engine], help="the engine's state, PnL and connections")
    slots = commands.add_parser("slots", parents=[engine], help="the grid's slots")
    slots.add_argument("--all", action="store_true", help="also slots with no order and no position")
    for name, text in (
        ("pause", "stop placing orders (resting orders stay)"),
        ("resume", "trade again (also clears drift and stale-state pauses)"),
        ("cancel-all", "pause and cancel every order of the grid"),
    ):
        command = commands.add_parser(name, parents=[engine], help=text)
        command.add_argument("--reason", default="", help="why (goes to the audit log)")
    events = commands.add_parser("events", parents=[engine], help="follow the engine's events")
    events.add_argument("--count", type=int, default=0, help="stop after this many events (0: follow)")
    halt = commands.add_parser("halt", parents=[risk], help="kill switch: risk refuses every opening order")
    halt.add_argument("--reason", required=True, help="why (goes to risk's audit log)")
    halt.add_argument("--reduce-only", action="store_true", help="REDUCE_ONLY instead of HALTED")
    resume_risk = commands.add_parser("resume-risk", parents=[risk], help="lift a halt: risk trades again")
    resume_risk.add_argument("--reason", required=True, help="why (goes to risk's audit log)")
    return top


def main(argv: Sequence[str] | None = None, console: Console | None = None) -> int:
    args = parser().parse_args(argv)
    if args.timeout <= 0:
        print("opensqt: --timeout must be > 0", file=sys.stderr)
        return EXIT_USAGE
    try:
        return run(args, console or Console())
    except OSError as exc:
        print(f"opensqt: {exc}", file=sys.stderr)
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
