#!/usr/bin/env bash
# Listing a large prefix, sluice side by side with boto3 in the same run: 100,000 small
# objects under s3://sluice-bench-list/bench-list/ (400 folders day=YYYY-MM-DD of 250
# part-NNNNNN.csv each) on the S3 server the tests use (moto), listed recursively
#
#   boto3   list_objects_v2 paginator over the prefix, counting every key (a Python process)
#   sluice  sluice files bench --pattern '*.csv' --limit 5 --json (every match listed and
#           sorted newest first; its `count` must be 100,000)
#
# Each is run 3 times, interleaved, each time a fresh process under /usr/bin/time (wall
# seconds, peak RSS, CPU). Prints each run, then the medians: seconds, objects/s, peak RSS,
# CPU seconds, the requests each sent (from moto's request log), the CPU seconds moto spent
# answering them, and the ratio sluice / boto3; and boto3's listing time inside its process
# (without Python's start and imports).
#
#   bench/list.sh
#   SLUICE=path/to/sluice bench/list.sh   # that binary, nothing built
#   REPEAT=5 COUNT=20000 bench/list.sh   # another prefix, bench-list-20000
#
# The server is the one scripts/peers.sh starts (eval "$(scripts/peers.sh env)"); this
# waits for it but does not start or stop it. The objects are put once with boto3 (32
# threads; moto spends ~6 ms of CPU on each PUT, so 100,000 take about 10 minutes) and a
# marker object records that they are all there; moto keeps them in memory, so after the
# server restarts they are put again. boto3 runs in the venv under ~/.cache/sluice-bench.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
COUNT="${COUNT:-100000}"
BUCKET=sluice-bench-list
PREFIX=bench-list
[ "$COUNT" = 100000 ] || PREFIX="bench-list-$COUNT"
OUT="$PWD/bench/out/list"
VENV="$HOME/.cache/sluice-bench/venv"

if [ -n "${SLUICE:-}" ]; then
  SLUICE_BIN="$SLUICE"
else
  cargo build --release --workspace
fi
[ -x "$SLUICE_BIN" ] || { echo "no sluice binary at $SLUICE_BIN" >&2; exit 1; }
if [ ! -x /usr/bin/time ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time >/dev/null
fi
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
if ! "$VENV/bin/python" -c "import boto3" 2>/dev/null; then
  "$VENV/bin/pip" install -q boto3
fi
eval "$(scripts/peers.sh env)"
for _ in $(seq 1 120); do
  curl -s -o /dev/null --max-time 3 "$SLUICE_S3_ENDPOINT/moto-api/" && break
  sleep 1
done
curl -s -o /dev/null --max-time 3 "$SLUICE_S3_ENDPOINT/moto-api/" \
  || { echo "no S3 server at $SLUICE_S3_ENDPOINT: start it with scripts/peers.sh start" >&2; exit 1; }
mkdir -p "$OUT"
"$VENV/bin/python" bench/list.py populate "$SLUICE_S3_ENDPOINT" "$BUCKET" "$PREFIX" "$COUNT"
# moto's request log and process: the requests each tool sends, and the server's CPU time.
SERVER=()
if [ -f "$SLUICE_PEERS_DIR/s3.log" ] && [ -f "$SLUICE_PEERS_DIR/s3.pid" ]; then
  SERVER=("$SLUICE_PEERS_DIR/s3.log" "$(cat "$SLUICE_PEERS_DIR/s3.pid")")
fi
exec "$VENV/bin/python" bench/list.py compare "$SLUICE_BIN" "$SLUICE_S3_ENDPOINT" "$BUCKET" \
  "$PREFIX" "$COUNT" "$OUT" "${SERVER[@]}"
