#!/usr/bin/env bash
# Stop the hatchet-lite engine started by scripts/hatchet/up.sh.
# Leaves the database, the config/token (state dir) and the built binaries.
# Idempotent: does nothing if the engine is not running.
set -euo pipefail

CACHE="${MAGEFLOW_CACHE:-$HOME/.cache/mageflow}"
STATE_DIR="${HATCHET_STATE_DIR:-$CACHE/hatchet/state}"
PID_FILE="$STATE_DIR/hatchet-lite.pid"
STOP_TIMEOUT="${HATCHET_STOP_TIMEOUT:-30}"

log() { printf '[hatchet-down] %s\n' "$*" >&2; }

is_engine() { # pid -> 0 if it is a live hatchet-lite process
  [[ -n "$1" && -r "/proc/$1/cmdline" ]] && tr '\0' ' ' <"/proc/$1/cmdline" | grep -q 'hatchet-lite'
}

pid=$(cat "$PID_FILE" 2>/dev/null || true)
if ! is_engine "$pid"; then
  log "hatchet-lite is not running${pid:+ (stale pid $pid)}"
  rm -f "$PID_FILE"
  exit 0
fi

log "stopping hatchet-lite (pid $pid)"
kill -TERM "$pid" 2>/dev/null || true
for ((i = 0; i < STOP_TIMEOUT * 4; i++)); do
  is_engine "$pid" || break
  sleep 0.25
done
if is_engine "$pid"; then
  log "still running after ${STOP_TIMEOUT}s; sending SIGKILL"
  kill -KILL "$pid" 2>/dev/null || true
  for ((i = 0; i < 20; i++)); do is_engine "$pid" || break; sleep 0.25; done
fi
rm -f "$PID_FILE"
log "stopped"
