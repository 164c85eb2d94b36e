"""Writes the ORC fixtures the readers' tests read, with pyarrow (the Apache ORC C++
library, not the one sluice reads them with). Run: python3 make.py (needs `pip install
pyarrow`)."""

import datetime
import decimal

import pyarrow as pa
import pyarrow.orc as orc

UTC = datetime.timezone.utc


def typed():
    return pa.table(
        {
            "id": pa.array([1, 2, 3], pa.int64()),
            "small": pa.array([1, -2, None], pa.int16()),
            "name": pa.array(["ann", "bob", None], pa.string()),
            "amount": pa.array(
                [decimal.Decimal("1234.56"), decimal.Decimal("-0.05"), None],
                pa.decimal128(12, 2),
            ),
            "day": pa.array([datetime.date(2024, 11, 19), datetime.date(1999, 12, 31), None]),
            "at": pa.array(
                [
                    datetime.datetime(2024, 11, 19, 8, 30, 0, 123456),
                    datetime.datetime(1999, 12, 31, 23, 59, 59),
                    None,
                ],
                pa.timestamp("us"),
            ),
            "flag": pa.array([True, False, None]),
            "ratio": pa.array([0.25, -2.5, None], pa.float64()),
            "raw": pa.array([b"\x00\xff", b"", None], pa.binary()),
            "tags": pa.array([["a", "b"], [], None], pa.list_(pa.string())),
            "address": pa.array(
                [{"city": "Oslo", "zip": 150}, {"city": "Lima", "zip": 1}, None],
                pa.struct([("city", pa.string()), ("zip", pa.int32())]),
            ),
        }
    )


def main():
    orc.write_table(typed(), "typed.orc", compression="zlib")
    ids = pa.array(range(5000), pa.int64())
    names = pa.array([f"name {i * 7919 % 1009}" for i in range(5000)])
    table = pa.table({"id": ids, "name": names})
    for codec in ["uncompressed", "zlib", "snappy", "zstd", "lz4"]:
        # Small stripes: a file of several stripes, as large files are.
        orc.write_table(
            table, f"codec_{codec}.orc", compression=codec, stripe_size=64 * 1024
        )


if __name__ == "__main__":
    main()
