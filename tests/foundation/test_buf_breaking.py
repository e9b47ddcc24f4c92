"""`buf breaking` against the committed API image (api/released.binpb) catches breaking edits."""

import shutil
import subprocess
from pathlib import Path

import pytest
from google.protobuf import descriptor_pb2

REPO = Path(__file__).resolve().parents[2]
BUF = REPO / ".tools" / "node_modules" / ".bin" / "buf"
IMAGE = REPO / "api" / "released.binpb"
# buf's exit code when the check ran and found breaking changes.
BUF_FOUND_ISSUES = 100


@pytest.fixture
def api_copy(tmp_path: Path) -> Path:
    assert BUF.exists(), f"{BUF} is missing: run `make setup`"
    shutil.copytree(REPO / "proto", tmp_path / "proto")
    shutil.copy2(REPO / "buf.yaml", tmp_path / "buf.yaml")
    return tmp_path


def buf_breaking(workspace: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BUF), "breaking", "--against", str(IMAGE)],
        cwd=workspace,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert text.count(old) == 1, f"{old!r} should occur exactly once in {path}"
    path.write_text(text.replace(old, new))


def test_image_holds_every_released_package() -> None:
    image = descriptor_pb2.FileDescriptorSet.FromString(IMAGE.read_bytes())
    packages = {file.package for file in image.file}
    assert {
        "opensqt.common.v1",
        "opensqt.exchange.v1",
        "opensqt.risk.v1",
        "opensqt.engine.v1",
        "opensqt.sim.v1",
    } <= packages


def test_unmodified_copy_passes(api_copy: Path) -> None:
    result = buf_breaking(api_copy)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("proto_file", "old", "new", "reported"),
    [
        pytest.param(
            "opensqt/common/v1/common.proto",
            "string value = 1;",
            "string value = 9;",
            'Previously present field "1" with name "value" on message "Decimal" was deleted',
            id="renumbered-field",
        ),
        pytest.param(
            "opensqt/exchange/v1/exchange_service.proto",
            "bool post_only = 8;",
            "string post_only = 8;",
            'Field "8" with name "post_only" on message "PlaceOrderRequest" changed type',
            id="changed-field-type",
        ),
        pytest.param(
            "opensqt/common/v1/common.proto",
            "ORDER_STATUS_FILLED = 4;",
            "ORDER_STATUS_DONE = 4;",
            'Enum value "4" on enum "OrderStatus" changed name from "ORDER_STATUS_FILLED"',
            id="renamed-enum-value",
        ),
    ],
)
def test_breaking_edit_fails(api_copy: Path, proto_file: str, old: str, new: str, reported: str) -> None:
    edit(api_copy / "proto" / proto_file, old, new)

    result = buf_breaking(api_copy)

    assert result.returncode == BUF_FOUND_ISSUES, result.stdout + result.stderr
    assert reported in result.stdout
    assert proto_file in result.stdout
