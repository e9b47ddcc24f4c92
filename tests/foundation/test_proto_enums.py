"""Every enum in every generated proto module has value 0 named <ENUM>_UNSPECIFIED."""

import importlib
import re
from collections.abc import Iterator
from pathlib import Path

from google.protobuf import descriptor, descriptor_pb2, descriptor_pool

REPO = Path(__file__).resolve().parents[2]
GEN = REPO / "gen" / "python"
PROTO = REPO / "proto"


def upper_snake(name: str) -> str:
    """`KlineInterval` -> `KLINE_INTERVAL`, `HTTPCode` -> `HTTP_CODE` (buf's enum prefix rule)."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name)
    return spaced.upper()


def _enums(
    container: descriptor.FileDescriptor | descriptor.Descriptor,
) -> Iterator[descriptor.EnumDescriptor]:
    yield from container.enum_types_by_name.values()
    messages = (
        container.message_types_by_name.values()
        if isinstance(container, descriptor.FileDescriptor)
        else container.nested_types
    )
    for message in messages:
        yield from _enums(message)


def enum_violations(file: descriptor.FileDescriptor) -> list[str]:
    """One line per enum (top-level or nested) whose zero value is not <ENUM>_UNSPECIFIED."""
    problems = []
    for enum in _enums(file):
        expected = f"{upper_snake(enum.name)}_UNSPECIFIED"
        zero = enum.values_by_number.get(0)
        if zero is None or zero.name != expected:
            found = "no value 0" if zero is None else f"0 is {zero.name}"
            problems.append(f"{file.name}: {enum.full_name}: {found}, expected {expected}")
    return problems


def generated_modules() -> list[str]:
    return sorted(
        ".".join(path.relative_to(GEN).with_suffix("").parts)
        for path in GEN.joinpath("opensqt").rglob("*_pb2.py")
    )


def test_upper_snake_matches_buf_naming() -> None:
    assert upper_snake("Side") == "SIDE"
    assert upper_snake("KlineInterval") == "KLINE_INTERVAL"
    assert upper_snake("HTTPCode") == "HTTP_CODE"
    assert upper_snake("Level2Book") == "LEVEL2_BOOK"


def test_every_proto_file_has_a_generated_module() -> None:
    proto_files = {str(path.relative_to(PROTO)) for path in PROTO.rglob("*.proto")}
    generated = {importlib.import_module(name).DESCRIPTOR.name for name in generated_modules()}
    assert proto_files, "no .proto files found"
    assert generated == proto_files


def test_every_enum_has_unspecified_zero_value() -> None:
    declared = sum(
        len(re.findall(r"^\s*enum\s+\w+\s*\{", path.read_text(), flags=re.MULTILINE))
        for path in PROTO.rglob("*.proto")
    )
    seen = 0
    problems: list[str] = []
    for name in generated_modules():
        file = importlib.import_module(name).DESCRIPTOR
        seen += sum(1 for _ in _enums(file))
        problems.extend(enum_violations(file))
    assert seen == declared, "the descriptor walk missed enums declared in proto/"
    assert seen > 0
    assert problems == []


def test_checker_flags_a_wrong_zero_value() -> None:
    proto = descriptor_pb2.FileDescriptorProto(name="bad/v1/bad.proto", package="bad.v1", syntax="proto3")
    colour = proto.enum_type.add(name="Colour")
    colour.value.add(name="COLOUR_RED", number=0)
    colour.value.add(name="COLOUR_UNSPECIFIED", number=1)
    good = proto.enum_type.add(name="Shade")
    good.value.add(name="SHADE_UNSPECIFIED", number=0)
    nested = proto.message_type.add(name="Paint").enum_type.add(name="Finish")
    nested.value.add(name="UNSPECIFIED", number=0)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(proto)

    problems = enum_violations(pool.FindFileByName("bad/v1/bad.proto"))

    assert problems == [
        "bad/v1/bad.proto: bad.v1.Colour: 0 is COLOUR_RED, expected COLOUR_UNSPECIFIED",
        "bad/v1/bad.proto: bad.v1.Paint.Finish: 0 is UNSPECIFIED, expected FINISH_UNSPECIFIED",
    ]
