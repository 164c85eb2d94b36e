#!/usr/bin/env bash
# sluice side by side with the tool a user would script instead, in the same run, on the
# same file: one table per format and destination with sluice's MB/s, the peer's MB/s, the
# ratio (sluice / peer) and the peak RSS of each.
#
#   CSV     → DuckDB      sluice run  vs  CREATE TABLE … AS SELECT * FROM read_csv(…)
#   Parquet → DuckDB      sluice run  vs  … read_parquet(…)
#   JSONL   → DuckDB      sluice run  vs  … read_json(…)
#   CSV     → PostgreSQL  sluice run  vs  psql \copy … FROM … CSV HEADER   (with PG_URL)
#
# It also measures what DuckDB's storage alone costs for Arrow input (the CSV read into an
# Arrow table first, untimed, then CREATE TABLE AS over it): the bound any loader that
# hands DuckDB Arrow batches meets.
#
#   bench/compare.sh                          # 12,000,000 rows (about 1 GB of CSV)
#   ROWS=2000000 bench/compare.sh
#   PG_URL=postgres://postgres@127.0.0.1:54329/postgres bench/compare.sh
#   ONLY=csv bench/compare.sh                 # csv, parquet, json, postgres, storage
#
# The peers run DuckDB's own Python package at the version sluice bundles (a venv under
# ~/.cache/sluice-bench). Files are generated once (fixed seed) under bench/out/compare and
# reused; every load goes to a new on-disk database (or table). Files are read once before
# timing, so both sides read them from the page cache.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
ROWS="${ROWS:-12000000}"
OUT="$PWD/bench/out/compare"
VENV="$HOME/.cache/sluice-bench/venv"
DUCKDB_VERSION=2.0.0

cargo build --release --workspace
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
if ! "$VENV/bin/python" -c "import duckdb, pyarrow; assert duckdb.__version__ == '$DUCKDB_VERSION'" 2>/dev/null; then
  "$VENV/bin/pip" install -q pyarrow fastavro "duckdb==$DUCKDB_VERSION"
fi
mkdir -p "$OUT/drop"
if [ "$(cat "$OUT/rows" 2>/dev/null)" != "$ROWS" ]; then
  rm -f "$OUT"/drop/*
  "$SLUICE_BIN" generate-transactions "$OUT/drop/t.csv" --rows "$ROWS" --seed 42
  echo "$ROWS" > "$OUT/rows"
fi
exec "$VENV/bin/python" bench/compare.py "$SLUICE_BIN" "$OUT"
