"""The side-by-side benchmark bench/compare.sh runs: sluice and its peer on the same file in
the same run, each in a process of its own, timed wall-clock with its peak RSS."""

import json
import os
import resource
import shutil
import subprocess
import sys
import time

SLUICE, OUT = sys.argv[1], sys.argv[2]
DROP = os.path.join(OUT, "drop")
ONLY = set(filter(None, os.environ.get("ONLY", "").split(",")))
PG_URL = os.environ.get("PG_URL", "")
PY = sys.executable


def wanted(name):
    return not ONLY or name in ONLY


def measured(argv, env=None):
    """Runs argv in a child of a fresh Python, so ru_maxrss is that command's alone."""
    probe = (
        "import resource, subprocess, sys, time, json\n"
        "t = time.monotonic()\n"
        "p = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
        "e = time.monotonic() - t\n"
        "r = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
        "print(json.dumps({'rc': p.returncode, 'seconds': e, 'rss_kib': r.ru_maxrss,"
        " 'cpu': r.ru_utime + r.ru_stime, 'out': p.stdout[-4000:], 'err': p.stderr[-4000:]}))\n"
    )
    out = subprocess.run([PY, "-c", probe, *argv], capture_output=True, text=True, env=env)
    result = json.loads(out.stdout)
    if result["rc"] != 0:
        sys.exit(f"{' '.join(argv[:3])}… failed ({result['rc']}):\n{result['err']}{result['out']}")
    return result


def warm(path):
    with open(path, "rb") as f:
        while f.read(1 << 24):
            pass


def fresh(path):
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)
    return path


def sluice_load(name, pattern, destination=None, table="t"):
    """A new data dir, a connection and a job for `pattern`, then the timed `sluice run`."""
    data = fresh(os.path.join(OUT, "sluice-data"))
    base = [SLUICE, "--data-dir", data]
    subprocess.run(base + ["connections", "add", "drop", f"file://{DROP}"], check=True,
                   capture_output=True)
    create = base + ["jobs", "create", name, "--connection", "drop", "--pattern", pattern,
                     "--max-file-size", "64GiB", "--table", table]
    if destination:
        create += ["--destination", destination]
    subprocess.run(create, check=True, capture_output=True)
    result = measured(base + ["run", name, "--json"])
    run = json.loads(result["out"])
    assert run["files_loaded"] == 1, run
    result["rows"] = run["rows_loaded"]
    return result


DUCKDB_CTAS = (
    "import duckdb, sys\n"
    "c = duckdb.connect(sys.argv[1])\n"
    "c.execute('SET enable_progress_bar = false')\n"
    "c.execute(sys.argv[2])\n"
    "print(c.execute('SELECT count(*) FROM t').fetchone()[0])\n"
)


def duckdb_ctas(sql):
    db = os.path.join(fresh(os.path.join(OUT, "peer")), "peer.duckdb")
    result = measured([PY, "-c", DUCKDB_CTAS, db, sql])
    result["rows"] = int(result["out"].strip().splitlines()[-1])
    return result


rows_out = []


def row(fmt, dest, path, sluice, peer, peer_name):
    size = os.path.getsize(path)
    mbs = lambda r: size / 1e6 / r["seconds"]
    rows_out.append((fmt, dest, size, sluice, peer, peer_name, mbs(sluice), mbs(peer)))
    print(f"{fmt} → {dest}: sluice {mbs(sluice):,.0f} MB/s ({sluice['seconds']:.1f} s, "
          f"{sluice['rss_kib'] / 1024:,.0f} MiB), {peer_name} {mbs(peer):,.0f} MB/s "
          f"({peer['seconds']:.1f} s, {peer['rss_kib'] / 1024:,.0f} MiB)", flush=True)
    if sluice["rows"] != peer["rows"]:
        print(f"  note: {fmt}: sluice loaded {sluice['rows']:,} rows, {peer_name} {peer['rows']:,}")


csv = os.path.join(DROP, "t.csv")
warm(csv)

if wanted("csv"):
    s = sluice_load("csv", "t.csv")
    p = duckdb_ctas(f"CREATE TABLE t AS SELECT * FROM read_csv('{csv}')")
    row("CSV", "DuckDB", csv, s, p, "read_csv CTAS")

if wanted("storage"):
    # DuckDB's storage alone for Arrow input: the CSV already in an Arrow table (read
    # untimed by pyarrow, then inserted through DuckDB's Arrow scan).
    probe = (
        "import duckdb, pyarrow.csv as pc, resource, sys, time, json\n"
        "tbl = pc.read_csv(sys.argv[2])\n"
        "c = duckdb.connect(sys.argv[1])\n"
        "c.execute('SET enable_progress_bar = false')\n"
        "t = time.monotonic(); c.execute('CREATE TABLE t AS SELECT * FROM tbl')\n"
        "e = time.monotonic() - t\n"
        "print(json.dumps({'seconds': e, 'rows': tbl.num_rows}))\n"
    )
    db = os.path.join(fresh(os.path.join(OUT, "peer")), "peer.duckdb")
    out = subprocess.run([PY, "-c", probe, db, csv], capture_output=True, text=True, check=True)
    storage = json.loads(out.stdout)
    print(f"DuckDB storage alone, Arrow table in memory → on-disk table: "
          f"{storage['seconds']:.1f} s for the {os.path.getsize(csv) / 1e6:,.0f} MB CSV's rows "
          f"({os.path.getsize(csv) / 1e6 / storage['seconds']:,.0f} MB/s of CSV)")

# The same rows as Parquet and as JSONL, written once by DuckDB.
for name, fmt, ext, reader in (("parquet", "Parquet", "parquet", "read_parquet"),
                                ("json", "JSONL", "jsonl", "read_json")):
    if not wanted(name):
        continue
    path = os.path.join(DROP, f"t.{ext}")
    if not os.path.exists(path):
        subprocess.run([PY, "-c", "import duckdb, sys; duckdb.execute(f\"COPY (SELECT * FROM "
                        "read_csv('{sys.argv[1]}')) TO '{sys.argv[2]}' (FORMAT {sys.argv[3]})\")",
                        csv, path, name], check=True)
    warm(path)
    s = sluice_load(name, f"t.{ext}")
    p = duckdb_ctas(f"CREATE TABLE t AS SELECT * FROM {reader}('{path}')")
    row(fmt, "DuckDB", path, s, p, f"{reader} CTAS")

if wanted("postgres") and PG_URL:
    table = f"bench_{int(time.time())}"
    s = sluice_load("pg", "t.csv", destination=PG_URL, table=table)
    # The peer: a table of the columns of the one sluice made (without its lineage
    # columns), then psql's \copy of the same file into it.
    cols = subprocess.run(
        ["psql", PG_URL, "-At", "-c",
         f"SELECT string_agg(quote_ident(column_name), ',' ORDER BY ordinal_position) FROM "
         f"information_schema.columns WHERE table_name = '{table}' AND column_name NOT LIKE '\\_sluice%'"],
        check=True, capture_output=True, text=True).stdout.strip()
    subprocess.run(["psql", PG_URL, "-q", "-c",
                    f"CREATE TABLE {table}_peer AS SELECT {cols} FROM {table} WITH NO DATA"],
                   check=True)
    p = measured(["psql", PG_URL, "-q", "-c",
                  f"\\copy {table}_peer ({cols}) FROM '{csv}' WITH (FORMAT csv, HEADER true)"])
    p["rows"] = int(subprocess.run(["psql", PG_URL, "-At", "-c", f"SELECT count(*) FROM {table}_peer"],
                                   check=True, capture_output=True, text=True).stdout)
    row("CSV", "PostgreSQL", csv, s, p, "psql \\copy")
    for t in (table, f"{table}_peer"):
        subprocess.run(["psql", PG_URL, "-q", "-c", f"DROP TABLE IF EXISTS {t}"], check=True)

if rows_out:
    print()
    print("| format | destination | file | sluice MB/s | peer | peer MB/s | ratio | sluice CPU s | peer CPU s | sluice RSS | peer RSS |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for fmt, dest, size, s, p, name, smbs, pmbs in rows_out:
        print(f"| {fmt} | {dest} | {size / 1e6:,.0f} MB | {smbs:,.0f} | {name} | {pmbs:,.0f} | "
              f"{smbs / pmbs:.2f}× | {s['cpu']:.1f} | {p['cpu']:.1f} | "
              f"{s['rss_kib'] / 1024:,.0f} MiB | {p['rss_kib'] / 1024:,.0f} MiB |")
