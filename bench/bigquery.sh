#!/usr/bin/env bash
# What a BigQuery load sends: loads the reproducible transactions CSV into local-bigquery
# (the emulator the tests use; start it with `scripts/peers.sh start`) with a release
# `sluice run`, then reads the load job's `statistics.load.inputFileBytes` (the bytes of
# its upload) and `configuration.load.sourceFormat` back from the jobs API, and reports
# bytes sent per GB of CSV and the run's time and peak memory.
#
#   bench/bigquery.sh                       # 1,000,000 rows (about 85 MB of CSV)
#   ROWS=4000000 bench/bigquery.sh
#   SLUICE_BIN=/path/to/other/sluice bench/bigquery.sh   # another build, not rebuilt
#
# The file is generated once (fixed seed) under bench/out/bigquery and reused; each run
# loads a dataset of its own.
set -euo pipefail
cd "$(dirname "$0")/.."
given_bin="${SLUICE_BIN:-}"
. scripts/env.sh
eval "$(scripts/peers.sh env)"
ROWS="${ROWS:-1000000}"
OUT="$PWD/bench/out/bigquery"
FILE="$OUT/drop/transactions_bench.csv"

if [ -n "$given_bin" ]; then
  SLUICE_BIN="$given_bin"
else
  cargo build --release --workspace
fi
mkdir -p "$OUT/drop"
if [ ! -f "$FILE" ] || [ "$(cat "$OUT/rows" 2>/dev/null)" != "$ROWS" ]; then
  echo "generating $ROWS rows into $FILE"
  "$SLUICE_BIN" generate-transactions "$FILE" --rows "$ROWS" --seed 42
  echo "$ROWS" > "$OUT/rows"
fi
DATA="$(mktemp -d)"
trap 'rm -rf "$DATA"' EXIT
DATASET="bench_$(date +%s)"
export SLUICE_BIGQUERY_ENDPOINT="$SLUICE_TEST_BIGQUERY_URL"
"$SLUICE_BIN" --data-dir "$DATA" connections add bench "file://$OUT/drop" >/dev/null
"$SLUICE_BIN" --data-dir "$DATA" jobs create bench --connection bench --pattern 'transactions_*.csv' \
  --max-file-size 8GiB --table transactions \
  --destination "bigquery://$SLUICE_TEST_BIGQUERY_PROJECT/$DATASET?credentials=none" >/dev/null

python3 - "$SLUICE_BIN" "$DATA" "$FILE" "$SLUICE_TEST_BIGQUERY_URL" "$SLUICE_TEST_BIGQUERY_PROJECT" "$DATASET" <<'PY'
import json, os, resource, subprocess, sys, time, urllib.request
binary, data, path, endpoint, project, dataset = sys.argv[1:7]
size = os.path.getsize(path)
t0 = time.monotonic()
out = subprocess.run([binary, "--data-dir", data, "run", "bench", "--json"], capture_output=True, text=True)
elapsed = time.monotonic() - t0
if out.returncode != 0:
    sys.exit(f"run failed ({out.returncode}): {out.stderr}{out.stdout}")
run = json.loads(out.stdout)
peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
jobs, token = [], None
while True:
    url = f"{endpoint}/bigquery/v2/projects/{project}/jobs?projection=full&maxResults=1000"
    if token:
        url += f"&pageToken={token}"
    page = json.load(urllib.request.urlopen(url))
    jobs += page.get("jobs") or []
    token = page.get("nextPageToken")
    if not token:
        break
loads = [j for j in jobs
         if (j.get("configuration", {}).get("load", {}).get("destinationTable") or {}).get("datasetId") == dataset]
if not loads:
    sys.exit(f"no load job into {dataset} found")
sent = sum(int(j["statistics"]["load"]["inputFileBytes"]) for j in loads)
formats = sorted({j["configuration"]["load"].get("sourceFormat", "CSV") for j in loads})
print(f"file:        {size / 1e6:,.0f} MB, {run['rows_loaded']:,} rows")
print(f"upload:      {', '.join(formats)}, {sent / 1e6:,.1f} MB in {len(loads)} load job(s)")
print(f"per GB:      {sent / size:,.3f} GB sent per GB of CSV")
print(f"elapsed:     {elapsed:.1f} s (the emulator's load included)")
print(f"peak RSS:    {peak_kib / 1024:,.0f} MiB")
PY
