#!/usr/bin/env bash
# Loads a reproducible ~1 GB transactions CSV (12 million rows) into DuckDB with a release
# `sluice run` and reports throughput (MB/s of CSV) and peak memory (RSS).
#
#   bench/run.sh            # 12,000,000 rows
#   ROWS=1000000 bench/run.sh
#   DESTINATION=postgres://user@host/db bench/run.sh   # another destination (--destination);
#                                                      # each run loads a table of its own
#
# The file is generated once (fixed seed) under bench/out/ and reused.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
ROWS="${ROWS:-12000000}"
OUT="$PWD/bench/out"
DROP="$OUT/drop"
DATA="$OUT/data"
FILE="$DROP/transactions_bench.csv"

cargo build --release --workspace
mkdir -p "$DROP"
if [ ! -f "$FILE" ] || [ "$(cat "$OUT/rows" 2>/dev/null)" != "$ROWS" ]; then
  echo "generating $ROWS rows into $FILE"
  "$SLUICE_BIN" generate-transactions "$FILE" --rows "$ROWS" --seed 42
  echo "$ROWS" > "$OUT/rows"
fi
rm -rf "$DATA"
"$SLUICE_BIN" --data-dir "$DATA" connections add bench "file://$DROP" >/dev/null
DEST_ARGS=(--table transactions)
if [ -n "${DESTINATION:-}" ]; then
  DEST_ARGS=(--table "bench_$(date +%s)" --destination "$DESTINATION")
fi
"$SLUICE_BIN" --data-dir "$DATA" jobs create bench --connection bench --pattern 'transactions_*.csv' \
  --max-file-size 8GiB "${DEST_ARGS[@]}" >/dev/null

python3 - "$SLUICE_BIN" "$DATA" "$FILE" <<'PY'
import json, os, resource, subprocess, sys, time
binary, data, path = sys.argv[1:4]
size = os.path.getsize(path)
t0 = time.monotonic()
out = subprocess.run([binary, "--data-dir", data, "run", "bench", "--json"], capture_output=True, text=True)
elapsed = time.monotonic() - t0
if out.returncode != 0:
    sys.exit(f"run failed ({out.returncode}): {out.stderr}{out.stdout}")
run = json.loads(out.stdout)
peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(f"file:        {size / 1e6:,.0f} MB, {run['rows_loaded']:,} rows")
print(f"elapsed:     {elapsed:.1f} s")
print(f"throughput:  {size / 1e6 / elapsed:,.0f} MB/s")
print(f"peak RSS:    {peak_kib / 1024:,.0f} MiB")
PY
