#!/usr/bin/env bash
# What row rules and quarantine cost: the same transactions CSV loaded into DuckDB with a
# release `sluice run`, without rules; with a transform, a filter and four rules (evaluated
# by an in-memory DuckDB over each Arrow batch); and with bad rows quarantined
# (--max-rejected 1%: the file read as text and typed row by row). Prints each run's
# throughput, CPU time and peak RSS, and the cost per GB of CSV against the first.
#
#   bench/rules.sh                 # 4,000,000 rows (~340 MB)
#   ROWS=12000000 bench/rules.sh   # the 1 GB file of bench/run.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
ROWS="${ROWS:-4000000}"
OUT="$PWD/bench/out/rules"
DROP="$OUT/drop"
FILE="$DROP/transactions_bench.csv"

cargo build --release --workspace
mkdir -p "$DROP"
if [ ! -f "$FILE" ] || [ "$(cat "$OUT/rows" 2>/dev/null)" != "$ROWS" ]; then
  echo "generating $ROWS rows into $FILE"
  "$SLUICE_BIN" generate-transactions "$FILE" --rows "$ROWS" --seed 42
  echo "$ROWS" > "$OUT/rows"
fi

python3 - "$SLUICE_BIN" "$OUT" "$FILE" <<'PY'
import json, os, shutil, subprocess, sys, time
binary, out, path = sys.argv[1:4]
size = os.path.getsize(path)
RULES = [
    "--transform", "note = trim(note)",
    "--filter", "status <> 'failed'",
    "--rule", "bounded: abs(amount) < 1000000",
    "--rule", "accepted(currency: EUR, USD, GBP, JPY, CHF)",
    "--rule", "not_null(transaction_id)",
    "--rule", "regex(country: ^[A-Z]{2}$)",
]

def load(name, extra):
    data = os.path.join(out, "data-" + name)
    shutil.rmtree(data, ignore_errors=True)
    base = [binary, "--data-dir", data]
    subprocess.run(base + ["connections", "add", "bench", "file://" + os.path.dirname(path)], check=True, capture_output=True)
    subprocess.run(base + ["jobs", "create", "bench", "--connection", "bench", "--pattern", "transactions_*.csv",
                           "--max-file-size", "8GiB", "--table", "transactions"] + extra, check=True, capture_output=True)
    before = os.times()
    t0 = time.monotonic()
    proc = subprocess.Popen(base + ["run", "bench", "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.monotonic() - t0
    stdout = proc.stdout.read()
    if status != 0:
        sys.exit(f"{name}: run failed: {proc.stderr.read()}{stdout}")
    run = json.loads(stdout)
    cpu = usage.ru_utime + usage.ru_stime
    return elapsed, cpu, usage.ru_maxrss / 1024, run["rows_loaded"]

plain = load("plain", [])
ruled = load("rules", RULES)
quarantined = load("quarantine", ["--max-rejected", "1%"])
gb = size / 1e9
print(f"file: {size / 1e6:,.0f} MB of CSV, {int(open(os.path.join(out, 'rows')).read()):,} rows")
print(f"{'':14} {'rows loaded':>12} {'elapsed s':>10} {'MB/s':>8} {'CPU s':>8} {'CPU s/GB':>9} {'peak RSS MiB':>13}")
runs = (("no rules", plain), ("with rules", ruled), ("quarantine", quarantined))
for name, (elapsed, cpu, rss, rows) in runs:
    print(f"{name:14} {rows:>12,} {elapsed:>10.1f} {size / 1e6 / elapsed:>8.0f} {cpu:>8.1f} {cpu / gb:>9.1f} {rss:>13.0f}")
print(f"rules cost: {(ruled[0] - plain[0]) / gb:+.1f} s/GB elapsed, {(ruled[1] - plain[1]) / gb:+.1f} CPU s/GB")
print(f"quarantine cost: {(quarantined[0] - plain[0]) / gb:+.1f} s/GB elapsed, {(quarantined[1] - plain[1]) / gb:+.1f} CPU s/GB")
PY
