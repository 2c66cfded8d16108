#!/usr/bin/env bash
# Starts retrieve-svc, invoke-svc and the gateway on their embedded defaults, in one terminal.
# Every log line names its service (svc=...). Ctrl-C stops all three gracefully.
# Arguments are passed to the gateway (e.g. --port 4567).
set -euo pipefail
cd "$(dirname "$0")/.."

export LOG_FORMAT="${LOG_FORMAT:-text}"
# One identity that may write, as docker-compose.yml configures it, so that creating,
# updating and deleting work out of the box; an ACCESS_TOKENS of your own (even an empty one)
# replaces it.
export ACCESS_TOKENS="${ACCESS_TOKENS-local-only-writer:local-only-write-token:read+write}"
if [ "$ACCESS_TOKENS" = "local-only-writer:local-only-write-token:read+write" ]; then
  echo "run: writes take the token local-only-write-token (doipctl create --token local-only-write-token …);" \
    "set ACCESS_TOKENS before the ports are reachable by anyone else" >&2
fi
pids=()
stop() {
  trap - INT TERM EXIT
  [ ${#pids[@]} -gt 0 ] && kill -TERM "${pids[@]}" 2>/dev/null || true
  wait 2>/dev/null || true
}
trap stop EXIT
trap 'stop; exit 0' INT TERM

bin/retrieve-svc & pids+=($!)
bin/invoke-svc & pids+=($!)
bin/doip-gateway "$@" & pids+=($!)

# When any of them exits (a start-up error, say), stop the others too.
wait -n || status=$?
echo "run: a service exited; stopping the others" >&2
exit "${status:-0}"
