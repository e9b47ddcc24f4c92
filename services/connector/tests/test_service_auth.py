"""Bearer-token auth (--auth-token-file) and TLS (--tls-cert/--tls-key) on the real connector."""

from __future__ import annotations

import datetime as dt
import ipaddress
from pathlib import Path

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from grpc_health.v1 import health_pb2
from pydantic import SecretStr

from opensqt.exchange.v1 import exchange_service_pb2 as pb
from opensqt.exchange.v1 import exchange_service_pb2_grpc
from opensqt_common.channels import open_channel
from opensqt_common.testing import health_status
from opensqt_connector.testing import SYMBOL, limit_order, running_connector

TOKEN = "test-token-5b2e"


@pytest.fixture
def token_file(tmp_path: Path) -> Path:
    path = tmp_path / "connector.token"
    path.write_text(TOKEN + "\n")
    return path


async def _code_of(call: object) -> grpc.StatusCode:
    try:
        await call  # type: ignore[misc]
    except grpc.aio.AioRpcError as exc:
        return exc.code()
    return grpc.StatusCode.OK


async def test_without_the_token_every_rpc_is_unauthenticated_and_with_it_ok(token_file: Path) -> None:
    async with running_connector("--auth-token-file", str(token_file), client_token=TOKEN) as client:
        for token in (None, "wrong-token"):
            channel = open_channel(client.address, auth_token=SecretStr(token) if token else None)
            stub = exchange_service_pb2_grpc.ExchangeServiceStub(channel)
            unauthenticated = grpc.StatusCode.UNAUTHENTICATED
            assert await _code_of(stub.ListMarkets(pb.ListMarketsRequest())) == unauthenticated
            assert await _code_of(stub.PlaceOrder(limit_order("auth-1", "buy", "59000", "0.001"))) == (
                unauthenticated
            )
            assert await _code_of(stub.StreamOrderUpdates(pb.StreamOrderUpdatesRequest()).read()) == (
                unauthenticated
            )
            submit = stub.SubmitOrders()
            assert await _code_of(submit.read()) == unauthenticated
            await channel.close()
        # Probes need no token.
        assert await health_status(client.address) == health_pb2.HealthCheckResponse.SERVING

        placed = await client.exchange.PlaceOrder(limit_order("auth-2", "buy", "59000", "0.001"))
        assert placed.order.client_order_id == "auth-2"
        listed = await client.exchange.ListOpenOrders(pb.ListOpenOrdersRequest(symbol=SYMBOL))
        assert [o.client_order_id for o in listed.orders] == ["auth-2"]


async def test_without_auth_no_token_is_needed() -> None:
    async with running_connector() as client:
        channel = open_channel(client.address)
        stub = exchange_service_pb2_grpc.ExchangeServiceStub(channel)
        placed = await stub.PlaceOrder(limit_order("noauth-1", "buy", "59000", "0.001"))
        assert placed.order.client_order_id == "noauth-1"
        await channel.close()


def _self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "server.crt", directory / "server.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


async def test_tls_with_token(tmp_path: Path, token_file: Path) -> None:
    cert, key = _self_signed(tmp_path)
    flags = ("--tls-cert", str(cert), "--tls-key", str(key), "--auth-token-file", str(token_file))
    async with running_connector(*flags, price_feed=True) as client:
        channel = open_channel(
            client.address, auth_token=SecretStr(TOKEN), root_certificates=cert.read_bytes()
        )
        stub = exchange_service_pb2_grpc.ExchangeServiceStub(channel)
        markets = await stub.ListMarkets(pb.ListMarketsRequest())
        assert [m.symbol for m in markets.markets] == [SYMBOL]
        await channel.close()

        async with grpc.aio.insecure_channel(client.address) as insecure:
            plaintext = exchange_service_pb2_grpc.ExchangeServiceStub(insecure)
            assert await _code_of(plaintext.ListMarkets(pb.ListMarketsRequest(), timeout=2)) in (
                grpc.StatusCode.UNAVAILABLE,
                grpc.StatusCode.DEADLINE_EXCEEDED,
            )
