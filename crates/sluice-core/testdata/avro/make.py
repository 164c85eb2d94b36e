"""Writes the Avro fixtures the readers' tests read, with fastavro (an implementation other
than the one sluice reads them with). Run: python3 make.py (needs `pip install fastavro cramjam backports.zstd`)."""

import datetime
import decimal
import uuid

import fastavro

LOGICAL = {
    "type": "record",
    "name": "Order",
    "fields": [
        {"name": "id", "type": "long"},
        {"name": "name", "type": "string"},
        {"name": "note", "type": ["null", "string"], "default": None},
        {"name": "amount", "type": {"type": "bytes", "logicalType": "decimal", "precision": 12, "scale": 2}},
        {"name": "day", "type": {"type": "int", "logicalType": "date"}},
        {"name": "at_ms", "type": {"type": "long", "logicalType": "timestamp-millis"}},
        {"name": "at_us", "type": {"type": "long", "logicalType": "timestamp-micros"}},
        {"name": "uid", "type": {"type": "string", "logicalType": "uuid"}},
        {"name": "flag", "type": "boolean"},
        {"name": "ratio", "type": "double"},
        {"name": "small", "type": "float"},
        {"name": "raw", "type": "bytes"},
        {"name": "kind", "type": {"type": "enum", "name": "Kind", "symbols": ["NEW", "PAID"]}},
        {"name": "tags", "type": {"type": "array", "items": "string"}},
        {"name": "attrs", "type": {"type": "map", "values": "long"}},
        {"name": "address", "type": {"type": "record", "name": "Address", "fields": [
            {"name": "city", "type": "string"}, {"name": "zip", "type": "int"}]}},
        {"name": "choice", "type": ["int", "string"]},
    ],
}

UTC = datetime.timezone.utc


def logical_rows():
    return [
        {
            "id": 1, "name": "ann", "note": None, "amount": decimal.Decimal("1234.56"),
            "day": datetime.date(2024, 11, 19),
            "at_ms": datetime.datetime(2024, 11, 19, 8, 30, 0, 123000, tzinfo=UTC),
            "at_us": datetime.datetime(2024, 11, 19, 8, 30, 0, 123456, tzinfo=UTC),
            "uid": str(uuid.UUID("12345678-1234-5678-1234-567812345678")),
            "flag": True, "ratio": 0.25, "small": 1.5, "raw": b"\x00\xff",
            "kind": "NEW", "tags": ["a", "b"], "attrs": {"x": 1},
            "address": {"city": "Oslo", "zip": 150}, "choice": 7,
        },
        {
            "id": 2, "name": "bob", "note": "rush", "amount": decimal.Decimal("-0.05"),
            "day": datetime.date(1999, 12, 31),
            "at_ms": datetime.datetime(1999, 12, 31, 23, 59, 59, 999000, tzinfo=UTC),
            "at_us": datetime.datetime(1999, 12, 31, 23, 59, 59, 1, tzinfo=UTC),
            "uid": str(uuid.UUID("00000000-0000-0000-0000-000000000001")),
            "flag": False, "ratio": -2.5, "small": 0.0, "raw": b"",
            "kind": "PAID", "tags": [], "attrs": {},
            "address": {"city": "Lima", "zip": 1}, "choice": "seven",
        },
    ]


SIMPLE = {
    "type": "record",
    "name": "Row",
    "fields": [{"name": "id", "type": "long"}, {"name": "name", "type": "string"}],
}


def main():
    with open("logical.avro", "wb") as f:
        fastavro.writer(f, fastavro.parse_schema(LOGICAL), logical_rows(), codec="null")
    rows = [{"id": i, "name": f"name {i * 7919 % 1009}"} for i in range(3000)]
    for codec in ["null", "deflate", "snappy", "zstandard", "bzip2", "xz"]:
        with open(f"codec_{codec}.avro", "wb") as f:
            # Small blocks: a file of many blocks, as large files are.
            fastavro.writer(f, fastavro.parse_schema(SIMPLE), rows, codec=codec, sync_interval=4000)


if __name__ == "__main__":
    main()
