#!/usr/bin/env bash
# Start a local Hatchet engine (hatchet-lite) for Mageflow development/tests.
#
#   eval "$(scripts/hatchet/up.sh)"     # idempotent; safe to rerun
#   scripts/hatchet/down.sh             # stops the engine, keeps DB + cache
#
# stdout: only `export HATCHET_CLIENT_...` lines (also written to $STATE_DIR/env).
# stderr: progress.
#
# What it does:
#   1. builds hatchet-migrate / hatchet-admin / hatchet-lite once (Go module
#      proxy, version $HATCHET_VERSION, default v0.104.7) into
#      $MAGEFLOW_CACHE/hatchet/$V/bin (default ~/.cache/mageflow), in the
#      background, with -ldflags "-X main.Version=$V" (otherwise the engine
#      reports v0.1.0-alpha.0 and the TS SDK falls back to its legacy worker).
#      A build interrupted by the caller keeps running; a rerun waits for it.
#   2. creates role/db `hatchet` (password `hatchet`, timezone UTC) in the local
#      PostgreSQL (psql -h 127.0.0.1 -U postgres).
#   3. hatchet-migrate; hatchet-admin quickstart; hatchet-admin token create.
#   4. starts hatchet-lite (setsid/nohup, pid + log in $STATE_DIR), waits for
#      /api/ready and the gRPC port.
#
# Message queue: RabbitMQ (127.0.0.1:5672, guest/guest), on a vhost named after
# the database, created with rabbitmqctl. hatchet-lite defaults to PostgreSQL as
# its queue; RabbitMQ is the faster of the two here. Measured with
# scripts/hatchet/throughput.mjs (SDK only: one bulk runManyNoWait of 1,000
# no-op runs, one worker with 100 slots, until every output is back; median of 3
# rounds, per session; 2 cores shared with other jobs, load average 10-19, so
# sessions vary by +-20%):
#     PostgreSQL queue   43-63 runs/s, median of 4 sessions 51   26-30 ms CPU/run
#     RabbitMQ queue     65-89 runs/s, median of 6 sessions 78   17-19 ms CPU/run
# (CPU per run: engine + PostgreSQL + RabbitMQ, from /proc, warm-up included.)
# The machine is CPU-bound during a run: both cores busy, the engine, PostgreSQL
# and RabbitMQ taking about 60-65% of it, other jobs the rest. PostgreSQL is the
# largest consumer either way (sampled: the analytics (OLAP) event copies and
# status updates, task events, commits); as the queue it also carries every
# message (queue-table writes, NOTIFY, polling), and RabbitMQ takes that off it.
# The figures were taken with DATABASE_MAX_CONNS=30 on a second engine: each
# engine opens up to ~50 connections, so two engines on one PostgreSQL with the
# default max_connections=100 fail with "too many clients". Tried and not kept:
# synchronous_commit=off for the Hatchet database (no measurable change: commits
# are not the limit); RabbitMQ prefetch 500 instead of 100 (within the noise);
# awaiting outputs vs. counting finished runs in the worker
# (same rate: the SDK's client-side waiting is not the limit). Worker slots do
# matter (each slot waits a full engine round trip between runs: 20 slots ~41
# runs/s, 500 slots ~91 runs/s), but they are the worker's setting, not the
# engine's. HATCHET_MSGQUEUE=postgres keeps the old setup; without RabbitMQ
# (not running and no rabbitmq-server to start) the script falls back to it.
# Why it is far below the thousands of runs/s Hatchet publishes: the published
# figures (docs: self-hosting/benchmarking) come from an 8-vCPU database and two
# 16-vCPU engine nodes, and even there the database spends ~12 ms of CPU per run
# at 100 runs/s (15% of 8 CPUs). Here everything shares 2 cores with other jobs.
# Measured again under heavier load (RabbitMQ, load average 19-34, other jobs
# also on this engine), per run: the engine ~8 ms, PostgreSQL ~21 ms (it also served other
# jobs' runs, so less than that is ours), RabbitMQ ~2 ms, the SDK worker process
# ~4.5 ms; 25-36 runs/s (median 32), the bulk trigger of 1,000 runs alone taking
# ~6 s. So the rate is the CPU this machine has left divided by ~22 ms a run
# (17-19 ms engine + PostgreSQL + RabbitMQ as measured above on a database of
# its own, ~4.5 ms the SDK's worker). Hatchet's buffer settings
# (SERVER_DEFAULT_BUFFER_SIZE, default 10; SERVER_DEFAULT_BUFFER_FLUSH_INTERVAL,
# 10ms) trade latency for fewer flushes; not measured yet: the shared
# PostgreSQL had no connections to spare for a second engine (below).
# PostgreSQL's max_connections (100) is shared with every other client: each
# engine opens up to DATABASE_MAX_CONNS (default 50), and when the server is full
# the engine fails the call at hand (seen: a worker's completion event refused
# with "remaining connection slots are reserved").
#
# Deviations from the original recipe, and why (checked against the
# hatchet-dev/hatchet sources of v0.104.7: cmd/hatchet-lite/main.go,
# cmd/hatchet-admin/cli/{quickstart,token}.go, hack/lite/start.sh):
#   * Build: `go install <pkg>@$V` fails behind a proxy that refuses
#     `@v/list` (go install always looks up "latest" to check deprecation:
#     "loading deprecation ... 403 Forbidden"). Instead we `go mod download`
#     the exact module version and `go build` the three cmd packages inside it
#     (-mod=readonly). Same module, same go.sum, same binaries; no replace
#     directives are involved (the module has none).
#   * quickstart defaults to --overwrite=true, which regenerates the cookie
#     secrets and JWT keysets on every run and so invalidates every token
#     minted before. We pass --overwrite=false (as hack/lite/start.sh does),
#     and also --config <dir>, because the seed step loads its config from
#     --config, not from --generated-config-dir.
#   * `token create` needs no tenant id: it defaults to the seeded default
#     tenant (707d0855-80ab-4e1f-a156-f1c4546cbf52).
#   * LITE_STATIC_ASSET_DIR cannot be empty: hatchet-lite refuses an empty
#     value, and its static file server panics at startup when the directory
#     has no index.html (template.ParseFiles). We point it at
#     $STATE_DIR/static holding a one-line placeholder index.html (no UI).
#   * -ldflags also sets cmd/hatchet-admin/cli.Version (hatchet-admin keeps
#     its version there, not in main) and -s -w (as Hatchet's own Dockerfile).
#   * SERVER_HEALTHCHECK=false: the engine's separate health server (default
#     :8733) is not needed; readiness is /api/ready + the gRPC port.
#   * Stale partitions: hatchet-lite's main returns as soon as it gets
#     SIGTERM, without running the engine's cleanup, so its scheduler /
#     controller / worker partition rows stay in the DB and the tenant stays
#     assigned to the dead scheduler partition until the engine's 1-minute
#     "inactive partition" rebalance: measured, the first task after every
#     restart waited ~60 s. Before starting the engine (only when no engine of
#     ours runs) we delete the rows of "SchedulerPartition",
#     "ControllerPartition", "TenantWorkerPartition" (the Tenant FKs are ON
#     DELETE SET NULL) and "Lease"; the new engine then assigns the tenant at
#     startup. Likewise the dead engine's pgoutbox consumer sessions (schema
#     "outbox", 30 s expiry) kept the exclusive lease on each concurrency
#     strategy topic, so tasks with a `concurrency` setting waited another
#     ~20 s after a restart; we clear outbox.consumer_sessions,
#     outbox.maintenance_leases and the exclusive-consumer columns of
#     outbox.topics too. We also wait until the default tenant has a live
#     scheduler and controller partition before reporting ready.
#   * Loopback: gRPC binds to 127.0.0.1 (SERVER_GRPC_BIND_ADDRESS) and every
#     URL/address we hand out is loopback. hatchet-lite itself, however, binds
#     the REST API (SERVER_PORT), LITE_FRONTEND_PORT and LITE_RUNTIME_PORT on
#     all interfaces (":port" is hard-coded); there is no setting for that.
#
# Env overrides: HATCHET_VERSION, MAGEFLOW_CACHE, HATCHET_STATE_DIR,
#   HATCHET_GRPC_PORT (7077), HATCHET_API_PORT (8080), HATCHET_PG_HOST
#   (127.0.0.1), HATCHET_PG_PORT (5432), HATCHET_PG_SUPERUSER (postgres),
#   HATCHET_DB_NAME / HATCHET_DB_USER / HATCHET_DB_PASSWORD (hatchet),
#   HATCHET_BUILD_TIMEOUT (s, default 1800), HATCHET_READY_TIMEOUT (s, 120),
#   HATCHET_MSGQUEUE (rabbitmq | postgres; default rabbitmq), HATCHET_RABBITMQ_VHOST
#   (default: the database name), HATCHET_RABBITMQ_URL (a broker of your own, used
#   as given). A rerun restarts a running engine whose queue is not the one wanted.
set -euo pipefail

V="${HATCHET_VERSION:-v0.104.7}"
CACHE="${MAGEFLOW_CACHE:-$HOME/.cache/mageflow}"
VER_DIR="$CACHE/hatchet/$V"
BIN="$VER_DIR/bin"
STATE_DIR="${HATCHET_STATE_DIR:-$CACHE/hatchet/state}"
CONF_DIR="$STATE_DIR/config"
LOG_DIR="$STATE_DIR/logs"
PID_FILE="$STATE_DIR/hatchet-lite.pid"
ENGINE_LOG="$LOG_DIR/hatchet-lite.log"
TOKEN_FILE="$STATE_DIR/token"
ENV_FILE="$STATE_DIR/env"

GRPC_PORT="${HATCHET_GRPC_PORT:-7077}"
API_PORT="${HATCHET_API_PORT:-8080}"
PG_HOST="${HATCHET_PG_HOST:-127.0.0.1}"
PG_PORT="${HATCHET_PG_PORT:-5432}"
PG_SUPER="${HATCHET_PG_SUPERUSER:-postgres}"
DB_NAME="${HATCHET_DB_NAME:-hatchet}"
DB_USER="${HATCHET_DB_USER:-hatchet}"
DB_PASS="${HATCHET_DB_PASSWORD:-hatchet}"
BUILD_TIMEOUT="${HATCHET_BUILD_TIMEOUT:-1800}"
READY_TIMEOUT="${HATCHET_READY_TIMEOUT:-120}"
MSGQUEUE="${HATCHET_MSGQUEUE:-rabbitmq}"
RABBITMQ_VHOST="${HATCHET_RABBITMQ_VHOST:-$DB_NAME}"
RABBITMQ_URL="${HATCHET_RABBITMQ_URL:-}"
MQ_FILE="$STATE_DIR/msgqueue"
MODULE="github.com/hatchet-dev/hatchet"
CMDS=(hatchet-migrate hatchet-admin hatchet-lite)

log() { printf '[hatchet-up] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

mkdir -p "$VER_DIR" "$STATE_DIR" "$LOG_DIR"

# ---------------------------------------------------------------- helpers
port_open() { # port -> 0 if something accepts on 127.0.0.1:port
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

free_port() { # first port >= $1 nobody accepts on
  local p=$1
  while port_open "$p"; do p=$((p + 1)); done
  echo "$p"
}

pid_alive() { # pid -> 0 if it is a live hatchet-lite process
  local pid=$1
  [[ -n "$pid" && -r "/proc/$pid/cmdline" ]] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q 'hatchet-lite'
}

engine_pid() { cat "$PID_FILE" 2>/dev/null || true; }

api_ready() {
  curl -fsS -m 3 -o /dev/null "http://127.0.0.1:$API_PORT/api/ready" 2>/dev/null
}

healthy() { api_ready && port_open "$GRPC_PORT"; }

jwt_claim() { # token claim -> value (string/number claims only)
  local payload
  payload=$(printf '%s' "$1" | cut -d. -f2 | tr '_-' '/+')
  while (( ${#payload} % 4 )); do payload="$payload="; done
  printf '%s' "$payload" | base64 -d 2>/dev/null |
    sed -n "s/.*\"$2\":\"\{0,1\}\([^\",}]*\).*/\1/p"
}

token_valid() { # token -> 0 if the running API accepts it
  local tok=$1 tenant exp
  [[ -n "$tok" ]] || return 1
  exp=$(jwt_claim "$tok" exp)
  if [[ "$exp" =~ ^[0-9]+$ ]] && (( exp < $(date +%s) + 3600 )); then
    return 1
  fi
  tenant=$(jwt_claim "$tok" sub)
  [[ -n "$tenant" ]] || return 1
  curl -fsS -m 5 -o /dev/null -H "Authorization: Bearer $tok" \
    "http://127.0.0.1:$API_PORT/api/v1/tenants/$tenant/workflows" 2>/dev/null
}

# ------------------------------------------------------- 1. binaries
binaries_ok() {
  local c
  for c in "${CMDS[@]}"; do
    [[ -x "$BIN/$c" ]] || return 1
  done
  [[ "$("$BIN/hatchet-lite" --version 2>/dev/null)" == "$V" &&
     "$("$BIN/hatchet-admin" --version 2>/dev/null)" == "$V" ]]
}

start_build() {
  local script
  # The build runs detached so that it survives the caller being cut off; it
  # writes into a temp dir and only moves complete binaries into $BIN.
  script=$(cat <<EOF
set -euo pipefail
trap 'rm -rf "$VER_DIR/bin.tmp"' EXIT
cd /
dir=\$(go mod download -json "$MODULE@$V" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}\$/\1/p')
[ -d "\$dir" ] || { echo "go mod download $MODULE@$V failed"; exit 1; }
cd "\$dir"
rm -rf "$VER_DIR/bin.tmp"; mkdir -p "$VER_DIR/bin.tmp"
GOFLAGS="-mod=readonly -buildvcs=false" go build -p 2 -o "$VER_DIR/bin.tmp/" \
  -ldflags "-s -w -X main.Version=$V -X $MODULE/cmd/hatchet-admin/cli.Version=$V" \
  ./cmd/hatchet-migrate ./cmd/hatchet-admin ./cmd/hatchet-lite
rm -rf "$BIN"; mv "$VER_DIR/bin.tmp" "$BIN"
echo "build ok"
EOF
)
  command -v go >/dev/null || die "go not found in PATH (need Go >= 1.26)"
  log "building Hatchet $V binaries into $BIN (first time only, several minutes); log: $VER_DIR/build.log"
  date +%s >"$VER_DIR/build.started"
  nohup setsid bash -c "$script" >"$VER_DIR/build.log" 2>&1 </dev/null &
  echo $! >"$VER_DIR/build.pid"
}

ensure_binaries() {
  binaries_ok && return 0
  local bpid waited=0
  bpid=$(cat "$VER_DIR/build.pid" 2>/dev/null || true)
  if [[ -n "$bpid" ]] && kill -0 "$bpid" 2>/dev/null; then
    log "a build of $V is already running (pid $bpid); waiting for it"
  else
    start_build
    bpid=$(cat "$VER_DIR/build.pid")
  fi
  while kill -0 "$bpid" 2>/dev/null; do
    (( waited >= BUILD_TIMEOUT )) && die "build still running after ${BUILD_TIMEOUT}s (pid $bpid, log $VER_DIR/build.log); rerun later"
    sleep 5; waited=$((waited + 5))
    (( waited % 60 == 0 )) && log "still building... ${waited}s"
  done
  if ! binaries_ok; then
    tail -n 30 "$VER_DIR/build.log" >&2 || true
    die "build failed, see $VER_DIR/build.log"
  fi
  log "binaries ready in $BIN"
}

# ------------------------------------------------------- 2. database
psql_admin() {
  psql -X -q -v ON_ERROR_STOP=1 -h "$PG_HOST" -p "$PG_PORT" -U "$PG_SUPER" -d postgres -tA "$@"
}

ensure_database() {
  command -v psql >/dev/null || die "psql not found"
  psql_admin -c 'select 1' >/dev/null || die "cannot reach PostgreSQL at $PG_HOST:$PG_PORT as $PG_SUPER"
  if [[ "$(psql_admin -c "select 1 from pg_roles where rolname = '$DB_USER'")" != 1 ]]; then
    log "creating role $DB_USER"
    psql_admin -c "create role \"$DB_USER\" login password '$DB_PASS'"
  fi
  if [[ "$(psql_admin -c "select 1 from pg_database where datname = '$DB_NAME'")" != 1 ]]; then
    log "creating database $DB_NAME"
    psql_admin -c "create database \"$DB_NAME\" owner \"$DB_USER\" encoding 'UTF8' template template0"
  fi
  psql_admin -c "alter database \"$DB_NAME\" set timezone to 'UTC'"
  psql_admin -c "alter role \"$DB_USER\" set timezone to 'UTC'"
}

# ------------------------------------------------------- 2b. message queue
rabbitmq_up() { port_open 5672; }

wanted_msgqueue() { # the queue a fresh start would use, without side effects
  if [[ "$MSGQUEUE" == rabbitmq ]] && { [[ -n "$RABBITMQ_URL" ]] || rabbitmq_up || command -v rabbitmq-server >/dev/null; }; then
    echo rabbitmq
  else
    echo postgres
  fi
}

# Sets MSGQUEUE/RABBITMQ_URL: RabbitMQ on its own vhost when it can be had,
# otherwise PostgreSQL (slower, see the top of this file) with a warning.
ensure_msgqueue() {
  [[ "$MSGQUEUE" == rabbitmq ]] || { MSGQUEUE=postgres; return 0; }
  if [[ -n "$RABBITMQ_URL" ]]; then return 0; fi # the caller's broker, as given
  if ! rabbitmq_up && command -v rabbitmq-server >/dev/null; then
    log "RabbitMQ is not running; starting it (rabbitmq-server -detached)"
    rabbitmq-server -detached >"$LOG_DIR/rabbitmq-start.log" 2>&1 || true
    for ((i = 0; i < 60; i++)); do rabbitmq_up && break; sleep 1; done
  fi
  if ! rabbitmq_up; then
    log "WARNING: RabbitMQ is not reachable on 127.0.0.1:5672; using PostgreSQL as the message queue (about 2/3 of the throughput)"
    MSGQUEUE=postgres
    return 0
  fi
  # Hatchet's queue names are global and every local engine seeds the same tenant
  # id, so two engines on one vhost would consume each other's messages: each
  # database gets a vhost of its own.
  if command -v rabbitmqctl >/dev/null && rabbitmqctl -q list_vhosts >"$LOG_DIR/rabbitmq-vhosts.log" 2>&1; then
    if ! grep -qx "$RABBITMQ_VHOST" "$LOG_DIR/rabbitmq-vhosts.log"; then
      log "creating RabbitMQ vhost $RABBITMQ_VHOST"
      rabbitmqctl -q add_vhost "$RABBITMQ_VHOST" >&2 || die "rabbitmqctl add_vhost $RABBITMQ_VHOST failed"
    fi
    rabbitmqctl -q set_permissions -p "$RABBITMQ_VHOST" guest '.*' '.*' '.*' >&2 ||
      die "rabbitmqctl set_permissions on $RABBITMQ_VHOST failed"
    RABBITMQ_URL="amqp://guest:guest@127.0.0.1:5672/$RABBITMQ_VHOST"
  else
    log "WARNING: cannot run rabbitmqctl to create vhost $RABBITMQ_VHOST; using the default vhost '/' (do not run two engines on it)"
    RABBITMQ_URL="amqp://guest:guest@127.0.0.1:5672/"
  fi
}

# ------------------------------------------------------- 3/4. engine env
engine_env() {
  FRONTEND_PORT=$(cat "$STATE_DIR/frontend.port" 2>/dev/null || true)
  RUNTIME_PORT=$(cat "$STATE_DIR/runtime.port" 2>/dev/null || true)
  export DATABASE_URL="postgresql://$DB_USER:$DB_PASS@$PG_HOST:$PG_PORT/$DB_NAME?sslmode=disable"
  export SERVER_MSGQUEUE_KIND="$MSGQUEUE"
  if [[ "$MSGQUEUE" == rabbitmq ]]; then
    export SERVER_MSGQUEUE_RABBITMQ_URL="$RABBITMQ_URL"
  else
    unset SERVER_MSGQUEUE_RABBITMQ_URL
  fi
  export SERVER_PORT="$API_PORT"
  export SERVER_URL="http://localhost:$API_PORT"
  export SERVER_GRPC_PORT="$GRPC_PORT"
  export SERVER_GRPC_BIND_ADDRESS=127.0.0.1
  export SERVER_GRPC_BROADCAST_ADDRESS="127.0.0.1:$GRPC_PORT"
  export SERVER_GRPC_INSECURE=t
  export SERVER_AUTH_COOKIE_DOMAIN=localhost
  export SERVER_AUTH_COOKIE_INSECURE=t
  export SERVER_AUTH_SET_EMAIL_VERIFIED=t
  export SERVER_SECURITY_CHECK_ENABLED=false
  export SERVER_HEALTHCHECK=false
  export SERVER_ANALYTICS_POSTHOG_ENABLED=false
  export SERVER_ALERTING_SENTRY_ENABLED=false
  export LITE_STATIC_ASSET_DIR="$STATE_DIR/static"
  export LITE_FRONTEND_BASE_PATH=/
  export LITE_FRONTEND_PORT="${FRONTEND_PORT:-0}"
  export LITE_RUNTIME_PORT="${RUNTIME_PORT:-0}"
}

run_logged() { # name cmd... -> output in $LOG_DIR/name.log, shown on failure
  local name=$1; shift
  if ! "$@" >"$LOG_DIR/$name.log" 2>&1; then
    tail -n 40 "$LOG_DIR/$name.log" >&2 || true
    die "$name failed (full log: $LOG_DIR/$name.log)"
  fi
}

prepare_engine() {
  ensure_database
  engine_env
  log "running migrations"
  run_logged migrate "$BIN/hatchet-migrate"
  mkdir -p "$CONF_DIR" "$LITE_STATIC_ASSET_DIR"
  [[ -s "$LITE_STATIC_ASSET_DIR/index.html" ]] ||
    echo '<!doctype html><title>hatchet-lite</title><p>No dashboard (API only).</p>' >"$LITE_STATIC_ASSET_DIR/index.html"
  log "generating config / seeding (quickstart)"
  run_logged quickstart "$BIN/hatchet-admin" quickstart --skip certs \
    --config "$CONF_DIR" --generated-config-dir "$CONF_DIR" --overwrite=false
}

psql_hatchet() {
  psql -X -q -v ON_ERROR_STOP=1 -h "$PG_HOST" -p "$PG_PORT" -U "$PG_SUPER" -d "$DB_NAME" -tA "$@"
}

clear_stale_partitions() { # only call when no engine uses the DB
  psql_hatchet -c 'delete from "SchedulerPartition"' -c 'delete from "ControllerPartition"' \
    -c 'delete from "TenantWorkerPartition"' -c 'delete from "Lease"'
  # pgoutbox (schema "outbox", concurrency strategies): exclusive topic leases
  # held by the dead engine's consumer sessions (30 s expiry).
  psql_hatchet -c "do \$\$ begin
    if to_regclass('outbox.consumer_sessions') is not null then
      delete from outbox.consumer_sessions;
      delete from outbox.maintenance_leases;
      update outbox.topics set exclusive_consumer_id = null, exclusive_consumer_expires_at = null;
    end if; end \$\$"
}

tenant_scheduled() { # default tenant assigned to live scheduler + controller partitions
  [[ "$(psql_hatchet -c "select count(*) from \"Tenant\" t
      join \"SchedulerPartition\" s on s.id = t.\"schedulerPartitionId\"
      join \"ControllerPartition\" c on c.id = t.\"controllerPartitionId\"
      where t.slug = 'default'
        and s.\"lastHeartbeat\" > now() - interval '1 minute'
        and c.\"lastHeartbeat\" > now() - interval '1 minute'" 2>/dev/null)" == 1 ]]
}

start_engine() {
  local pid waited=0
  port_open "$API_PORT" && die "port $API_PORT is in use by something else (not our hatchet-lite)"
  port_open "$GRPC_PORT" && die "port $GRPC_PORT is in use by something else (not our hatchet-lite)"
  FRONTEND_PORT=$(free_port 18081); echo "$FRONTEND_PORT" >"$STATE_DIR/frontend.port"
  RUNTIME_PORT=$(free_port $((FRONTEND_PORT + 1))); echo "$RUNTIME_PORT" >"$STATE_DIR/runtime.port"
  engine_env
  clear_stale_partitions
  log "starting hatchet-lite (grpc 127.0.0.1:$GRPC_PORT, api :$API_PORT); log: $ENGINE_LOG"
  [[ -f "$ENGINE_LOG" ]] && mv -f "$ENGINE_LOG" "$ENGINE_LOG.prev"
  # No job control in a script, so the background child is not a group
  # leader and setsid runs in-process: $! is hatchet-lite's own pid.
  nohup setsid "$BIN/hatchet-lite" --config "$CONF_DIR" >"$ENGINE_LOG" 2>&1 </dev/null &
  pid=$!
  echo "$pid" >"$PID_FILE"
  echo "$MSGQUEUE" >"$MQ_FILE"
  until healthy && tenant_scheduled; do
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -n 40 "$ENGINE_LOG" >&2 || true
      rm -f "$PID_FILE"
      die "hatchet-lite exited during startup (log: $ENGINE_LOG)"
    fi
    (( waited >= READY_TIMEOUT * 2 )) && {
      tail -n 40 "$ENGINE_LOG" >&2 || true
      die "hatchet-lite not ready after ${READY_TIMEOUT}s (pid $pid, log: $ENGINE_LOG); run down.sh"
    }
    sleep 0.5; waited=$((waited + 1))
  done
  log "hatchet-lite ready (pid $pid) after ~$((waited / 2))s"
}

ensure_token() {
  local tok=""
  [[ -s "$TOKEN_FILE" ]] && tok=$(<"$TOKEN_FILE")
  if token_valid "$tok"; then
    TOKEN=$tok
    return 0
  fi
  log "creating a new API token"
  engine_env
  tok=$("$BIN/hatchet-admin" token create --config "$CONF_DIR" --name mageflow-dev 2>"$LOG_DIR/token.log" | tail -n 1) ||
    { cat "$LOG_DIR/token.log" >&2; die "hatchet-admin token create failed"; }
  token_valid "$tok" || die "freshly created token is rejected by the API"
  (umask 077; printf '%s\n' "$tok" >"$TOKEN_FILE")
  TOKEN=$tok
}

# ------------------------------------------------------- main
ensure_binaries

pid=$(engine_pid)
WANT_MQ=$(wanted_msgqueue)
RUNNING_MQ=$(cat "$MQ_FILE" 2>/dev/null || echo postgres) # engines started before this file existed used postgres
if pid_alive "$pid" && healthy && [[ "$RUNNING_MQ" == "$WANT_MQ" ]]; then
  log "hatchet-lite already running and healthy (pid $pid, $RUNNING_MQ message queue)"
else
  if pid_alive "$pid"; then
    if healthy; then
      log "hatchet-lite (pid $pid) runs on the $RUNNING_MQ message queue, $WANT_MQ wanted; restarting it"
    else
      log "hatchet-lite (pid $pid) is running but not healthy; restarting it"
    fi
    "$(dirname "${BASH_SOURCE[0]}")/down.sh" >&2
  fi
  ensure_msgqueue
  rm -f "$PID_FILE"
  prepare_engine
  start_engine
fi

ensure_token

ENV_TEXT=$(cat <<EOF
export HATCHET_CLIENT_TOKEN=$TOKEN
export HATCHET_CLIENT_TLS_STRATEGY=none
export HATCHET_CLIENT_HOST_PORT=127.0.0.1:$GRPC_PORT
export HATCHET_CLIENT_API_URL=http://127.0.0.1:$API_PORT
EOF
)
(umask 077; printf '%s\n' "$ENV_TEXT" >"$ENV_FILE")
log "env written to $ENV_FILE"
printf '%s\n' "$ENV_TEXT"
