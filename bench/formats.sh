#!/usr/bin/env bash
# Loads the same transactions (ROWS rows, default 500,000) as CSV, gzip CSV, zstd CSV,
# JSONL, Parquet, Avro (deflate), ORC (zstd) and TFRecord into DuckDB with a release
# `sluice run`, and prints one row per format: file size, seconds, rows/s, MB/s of file,
# peak RSS. The files are written once by pyarrow and fastavro (a venv under
# ~/.cache/sluice-bench) from the CSV sluice generates, and reused.
#
#   bench/formats.sh
#   ROWS=200000 bench/formats.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
ROWS="${ROWS:-500000}"
OUT="$PWD/bench/out/formats"
VENV="$HOME/.cache/sluice-bench/venv"
mkdir -p "$OUT"

cargo build --release --workspace
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q pyarrow fastavro
fi
if [ "$(cat "$OUT/rows" 2>/dev/null)" != "$ROWS" ]; then
  rm -rf "$OUT"/drop && mkdir -p "$OUT/drop"
  "$SLUICE_BIN" generate-transactions "$OUT/drop/t.csv" --rows "$ROWS" --seed 42
  gzip -c -6 "$OUT/drop/t.csv" > "$OUT/drop/t.csv.gz"
  zstd -q -3 -c "$OUT/drop/t.csv" > "$OUT/drop/t.csv.zst"
  "$VENV/bin/python" - "$OUT/drop" <<'PY'
import struct, sys
import fastavro, pyarrow as pa, pyarrow.csv as pcsv, pyarrow.json, pyarrow.orc, pyarrow.parquet as pq
drop = sys.argv[1]
table = pcsv.read_csv(f"{drop}/t.csv")
pq.write_table(table, f"{drop}/t.parquet")
pyarrow.orc.write_table(table, f"{drop}/t.orc", compression="zstd")
with open(f"{drop}/t.jsonl", "w") as f:
    import json
    for batch in table.to_batches(65536):
        for row in batch.to_pylist():
            f.write(json.dumps(row, default=str) + "\n")
fields = []
for field in table.schema:
    t = field.type
    kind = ("boolean" if pa.types.is_boolean(t) else "long" if pa.types.is_integer(t)
            else "double" if pa.types.is_floating(t) else "string")
    fields.append({"name": field.name, "type": ["null", kind]})
schema = fastavro.parse_schema({"type": "record", "name": "T", "fields": fields})
def rows():
    for batch in table.to_batches(65536):
        for row in batch.to_pylist():
            yield {k: (str(v) if isinstance(v, (bytes,)) or hasattr(v, "isoformat") else v) for k, v in row.items()}
with open(f"{drop}/t.avro", "wb") as f:
    fastavro.writer(f, schema, rows(), codec="deflate")
# TFRecord, framed and encoded by hand: a bytes_list per text column, int64/float lists.
import zlib
def crc32c(data, table=[]):
    if not table:
        for i in range(256):
            c = i
            for _ in range(8):
                c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
            table.append(c)
    c = 0xFFFFFFFF
    for b in data:
        c = table[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF
def masked(data):
    c = crc32c(data)
    return ((((c >> 15) | (c << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF
def varint(n):
    out = bytearray()
    n &= (1 << 64) - 1
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80); n >>= 7
    out.append(n); return bytes(out)
def ld(tag, body):
    return bytes([(tag << 3) | 2]) + varint(len(body)) + body
with open(f"{drop}/t.tfrecord", "wb") as f:
    for batch in table.to_batches(65536):
        for row in batch.to_pylist():
            entries = b""
            for k, v in row.items():
                if v is None: continue
                if isinstance(v, bool): feat = ld(3, ld(1, varint(int(v))))
                elif isinstance(v, int): feat = ld(3, ld(1, varint(v)))
                elif isinstance(v, float): feat = ld(2, ld(1, struct.pack("<f", v)))
                else: feat = ld(1, ld(1, str(v).encode()))
                entries += ld(1, ld(1, k.encode()) + ld(2, feat))
            data = ld(1, entries)
            ln = struct.pack("<Q", len(data))
            f.write(ln + struct.pack("<I", masked(ln)) + data + struct.pack("<I", masked(data)))
PY
  echo "$ROWS" > "$OUT/rows"
fi

printf "%-12s %10s %8s %12s %8s %10s\n" format "size MB" seconds "rows/s" "MB/s" "peak RSS"
for f in t.csv t.csv.gz t.csv.zst t.jsonl t.parquet t.avro t.orc t.tfrecord; do
  data="$OUT/data-$f"
  rm -rf "$data"
  "$SLUICE_BIN" --data-dir "$data" connections add drop "file://$OUT/drop" >/dev/null
  "$SLUICE_BIN" --data-dir "$data" jobs create bench --connection drop --pattern "$f" \
    --max-file-size 8GiB --table t --no-lineage >/dev/null
  python3 - "$SLUICE_BIN" "$data" "$OUT/drop/$f" "$f" <<'PY'
import json, os, resource, subprocess, sys, time
binary, data, path, name = sys.argv[1:5]
size = os.path.getsize(path)
t0 = time.monotonic()
out = subprocess.run([binary, "--data-dir", data, "run", "bench", "--json"], capture_output=True, text=True)
elapsed = time.monotonic() - t0
if out.returncode != 0:
    sys.exit(f"{name}: run failed ({out.returncode}): {out.stderr}{out.stdout}")
rows = json.loads(out.stdout)["rows_loaded"]
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print(f"{name:<12} {size / 1e6:>10,.0f} {elapsed:>8.1f} {rows / elapsed:>12,.0f} {size / 1e6 / elapsed:>8,.0f} {peak:>7,.0f} MiB")
PY
done
