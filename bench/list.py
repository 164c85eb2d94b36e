"""The listing benchmark bench/list.sh runs: sluice and boto3 list the same objects on the
same S3 server in the same run, each in a process of its own, timed wall-clock with its
peak RSS by /usr/bin/time.

    list.py populate ENDPOINT BUCKET PREFIX COUNT   make the objects, unless already there
    list.py boto3 ENDPOINT BUCKET PREFIX            list them with the paginator (timed peer)
    list.py compare SLUICE ENDPOINT BUCKET PREFIX COUNT OUT [S3_LOG [S3_PID]]

With S3_LOG (the server's request log, moto's), each run also counts the requests it sent;
with S3_PID (the server's process), the CPU time the server spent answering them.
"""

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

PY = sys.executable
REPEAT = int(os.environ.get("REPEAT", "3"))
# Objects per folder: 100,000 objects make 400 folders (days).
PER_FOLDER = 250


def client(endpoint, pool=10):
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
        config=Config(
            s3={"addressing_style": "path"},
            max_pool_connections=pool,
            retries={"max_attempts": 5, "mode": "standard"},
        ),
    )


def key_of(prefix, i):
    """bench-list/day=2024-11-19/part-000123.csv: PER_FOLDER parts a day, days back from
    2024-11-19."""
    import datetime

    day = datetime.date(2024, 11, 19) - datetime.timedelta(days=i // PER_FOLDER)
    return f"{prefix}/day={day.isoformat()}/part-{i % PER_FOLDER:06d}.csv"


def populate(endpoint, bucket, prefix, count):
    from concurrent.futures import ThreadPoolExecutor

    s3 = client(endpoint, pool=32)
    try:
        s3.create_bucket(Bucket=bucket)
    except s3.exceptions.BucketAlreadyOwnedByYou:
        pass
    # Written after the last object, outside the prefix: the objects are all there.
    marker = f"{prefix}-populated"
    try:
        done = s3.get_object(Bucket=bucket, Key=marker)["Body"].read().decode()
    except s3.exceptions.NoSuchKey:
        done = ""
    if done == f"{prefix}/ {count}":
        print(f"{count:,} objects already under s3://{bucket}/{prefix}/")
        return

    def put(i):
        body = f"id,value\n{i},{i * 7 % 1000}\n".encode()
        s3.put_object(Bucket=bucket, Key=key_of(prefix, i), Body=body, ContentType="text/csv")

    t = time.monotonic()
    with ThreadPoolExecutor(32) as pool:
        for n, _ in enumerate(pool.map(put, range(count), chunksize=256), 1):
            if n % 10_000 == 0:
                print(f"  {n:,} objects, {time.monotonic() - t:.0f} s", flush=True)
    s3.put_object(Bucket=bucket, Key=marker, Body=f"{prefix}/ {count}".encode())
    print(f"put {count:,} objects under s3://{bucket}/{prefix}/ in {time.monotonic() - t:.0f} s")


def boto3_list(endpoint, bucket, prefix):
    """The peer: every key under the prefix counted, through the paginator."""
    t = time.monotonic()
    s3 = client(endpoint)
    count = pages = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix + "/"):
        pages += 1
        count += sum(1 for _ in page.get("Contents", ()))
    print(json.dumps({"count": count, "pages": pages, "seconds": time.monotonic() - t}))


def log_size(log):
    return os.path.getsize(log) if log else 0


def requests_since(log, offset, bucket):
    """Requests for the bucket the server logged after `offset` (werkzeug's access log)."""
    if not log:
        return None
    with open(log, "rb") as f:
        f.seek(offset)
        return sum(1 for line in f if f" /{bucket}?".encode() in line or f" /{bucket} ".encode() in line)


def cpu_of(pid):
    """User + system seconds a process has used so far."""
    if not pid:
        return 0.0
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def timed(argv, log, bucket, server):
    """argv under /usr/bin/time: wall seconds, peak RSS (KiB), CPU seconds, stdout, and the
    requests sent and the server's CPU seconds answering them."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as t:
        offset, before = log_size(log), cpu_of(server)
        p = subprocess.run(["/usr/bin/time", "-f", "%e %M %U %S", "-o", t.name, *argv],
                           capture_output=True, text=True)
        if p.returncode != 0:
            sys.exit(f"{' '.join(argv[:4])}… failed ({p.returncode}):\n{p.stderr}{p.stdout}")
        seconds, rss, user, system = t.read().split()[-4:]
    return {"seconds": float(seconds), "rss_kib": int(rss), "cpu": float(user) + float(system),
            "out": p.stdout, "requests": requests_since(log, offset, bucket),
            "server_cpu": cpu_of(server) - before if server else None}


def compare(sluice, endpoint, bucket, prefix, count, out, log=None, server=None):
    data = os.path.join(out, "sluice-data")
    shutil.rmtree(data, ignore_errors=True)
    os.makedirs(data)
    base = [sluice, "--data-dir", data]
    options = [f"endpoint={endpoint}", "allow_http=true", "path_style=true", "region=us-east-1",
               "access_key_id=testing", "secret_access_key=testing"]
    subprocess.run(base + ["connections", "add", "bench", f"s3://{bucket}/{prefix}",
                           *[a for o in options for a in ("-o", o)]],
                   check=True, capture_output=True)
    peer = [PY, os.path.abspath(__file__), "boto3", endpoint, bucket, prefix]
    ours = base + ["files", "bench", "--pattern", "*.csv", "--limit", "5", "--json"]
    runs = {"boto3": [], "sluice": []}
    for i in range(REPEAT):
        # Interleaved, so whatever drifts on the server during the run drifts for both.
        r = timed(peer, log, bucket, server)
        inner = json.loads(r["out"])
        r.update(count=inner["count"], pages=inner["pages"], seconds_in=inner["seconds"])
        runs["boto3"].append(r)
        r = timed(ours, log, bucket, server)
        r["count"] = json.loads(r["out"])["count"]
        runs["sluice"].append(r)
        for tool in runs:
            last = runs[tool][-1]
            if last["count"] != count:
                sys.exit(f"{tool} listed {last['count']:,} objects, not {count:,}")
            print(f"  run {i + 1} {tool:<6} {last['seconds']:6.2f} s  {last['rss_kib'] / 1024:5.0f} MiB"
                  f"  CPU {last['cpu']:5.2f} s"
                  + (f"  {last['requests']} requests" if last["requests"] is not None else "")
                  + (f"  server CPU {last['server_cpu']:.1f} s" if last["server_cpu"] is not None else "")
                  + (f"  (listing in-process {last['seconds_in']:.2f} s)" if "seconds_in" in last else ""),
                  flush=True)
    median = {tool: statistics.median(r["seconds"] for r in rs) for tool, rs in runs.items()}
    print()
    print(f"Listing {count:,} objects under s3://{bucket}/{prefix}/ at {endpoint}, "
          f"median of {REPEAT} runs, each a fresh process:")
    print()
    print("| tool | seconds | objects/s | peak RSS | CPU s | requests | server CPU s "
          "| ratio sluice/boto3 |")
    print("|---|---|---|---|---|---|---|---|")
    for tool, rs in runs.items():
        s = median[tool]
        rss = statistics.median(r["rss_kib"] for r in rs) / 1024
        cpu = statistics.median(r["cpu"] for r in rs)
        reqs = rs[-1]["requests"]
        server_cpu = (f"{statistics.median(r['server_cpu'] for r in rs):.1f}"
                      if rs[-1]["server_cpu"] is not None else "?")
        ratio = f"{median['sluice'] / median['boto3']:.2f}×" if tool == "sluice" else ""
        print(f"| {tool} | {s:.2f} | {count / s:,.0f} | {rss:.0f} MiB | {cpu:.2f} | "
              f"{reqs if reqs is not None else '?'} | {server_cpu} | {ratio} |")
    inside = statistics.median(r["seconds_in"] for r in runs["boto3"])
    print()
    print(f"boto3's listing alone, inside its process (client to last page): {inside:.2f} s "
          f"({runs['boto3'][-1]['pages']} pages); process start and imports are the rest.")


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "populate":
        populate(args[0], args[1], args[2], int(args[3]))
    elif cmd == "boto3":
        boto3_list(*args)
    elif cmd == "compare":
        compare(args[0], args[1], args[2], args[3], int(args[4]), args[5], *args[6:8])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
