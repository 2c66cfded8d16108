#!/usr/bin/env bash
# Measures the whole system: starts retrieve-svc, invoke-svc and the gateway on loopback
# ports of their own, with the sample objects plus two generated objects of 64 MiB and
# 512 MiB, and runs doipbench scenarios, reporting throughput, latency and each process's
# peak RSS. Every load goes to 127.0.0.1 only and is bounded in time.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION="${DURATION:-5s}"
BASE_PORT="${BASE_PORT:-23567}"
work="$(mktemp -d)"
pids=()
cleanup() {
  [ ${#pids[@]} -gt 0 ] && kill -TERM "${pids[@]}" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

data="$work/data"
make_object() { # qid shard size_mib
  local qid=$1 shard=$2 mib=$3
  mkdir -p "$data/records" "$data/main/$shard/$qid/components"
  head -c "$((mib << 20))" /dev/urandom > "$data/main/$shard/$qid/components/big.bin"
  cat > "$data/records/$qid.json" <<JSON
{"@id":"https://fdo.example.org/fdo/$qid","@type":"DigitalObject",
 "kernel":{"digitalObjectType":"https://fdo.example.org/fdo/types/Dataset",
  "fdo:hasComponent":[{"@id":"#big.bin","componentId":"big.bin","mediaType":"application/octet-stream"}]}}
JSON
}
export LOG_FORMAT=json LOG_LEVEL=warn
rport=$((BASE_PORT + 10)); iport=$((BASE_PORT + 11))
bin/retrieve-svc --listen "127.0.0.1:$rport" --data-dir "$data" 2>"$work/retrieve.log" & pids+=($!); rpid=$!
bin/invoke-svc --listen "127.0.0.1:$iport" --retrieve-addr "127.0.0.1:$rport" 2>"$work/invoke.log" & pids+=($!)
bin/doip-gateway --host 127.0.0.1 --port "$BASE_PORT" --retrieve-addr "127.0.0.1:$rport" \
  --invoke-addr "127.0.0.1:$iport" --tls-mode off 2>"$work/gateway.log" & pids+=($!); gpid=$!

for _ in $(seq 1 100); do
  bin/doipctl hello --port "$BASE_PORT" -q >/dev/null 2>&1 && break
  sleep 0.1
done
# retrieve-svc has seeded the empty folder with the sample objects; add the large ones.
echo "generating 64 MiB and 512 MiB components in $work ..." >&2
make_object Q900064 90/00/64 64
make_object Q900512 90/05/12 512

bench() { bin/doipbench -addr "127.0.0.1:$BASE_PORT" -pids "gateway=$gpid,retrieve-svc=$rpid" -duration "$DURATION" "$@"; }

echo "# $(date -u +%Y-%m-%d) on $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(go version | awk '{print $3}')"
bench -scenario hello -conns 1
bench -scenario hello -conns 16
bench -scenario record -object Q123 -conns 16
bench -scenario component -object Q123 -component main-pdf -conns 16
bench -scenario component -object Q900064 -component big.bin -conns 1 -n 8
bench -scenario component -object Q900512 -component big.bin -conns 1 -n 2 -duration 60s
bench -scenario hello-during-download -object Q900512 -component big.bin
