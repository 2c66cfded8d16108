#!/usr/bin/env bash
# Measures what slow readers cost: starts retrieve-svc (folder backend, one generated 64 MiB
# component) and the gateway on loopback ports of their own, then has doipbench open READERS
# connections (200) that each download the component at RATE bytes per second (1024) for
# DURATION (30s), and reports the resident memory of the gateway and of retrieve-svc before
# the readers came and while they all read, and the difference per reader. Before that, three
# fast downloads of 512 MiB, to show that fast readers did not slow down. BIN names the folder of
# the binaries (bin, from make build). S3=1 serves the components from a local versitygw
# instead (make tools installs it), so that retrieve-svc hands the reads off to presigned URLs
# and the gateway itself fetches them (DIRECT_READS). Every load goes to 127.0.0.1 only and is
# bounded in time.
set -euo pipefail
cd "$(dirname "$0")/.."

BIN="${BIN:-bin}"
READERS="${READERS:-200}"
RATE="${RATE:-1024}"
DURATION="${DURATION:-30s}"
BASE_PORT="${BASE_PORT:-24567}"
# shellcheck source=scripts/bench-lib.sh
. scripts/bench-lib.sh

make_object "$work/data" "$work/data/records" Q900064 90/00/64 $((64 << 20))
make_object "$work/data" "$work/data/records" Q900512 90/05/12 $((512 << 20))

s3env=()
if [ "${S3:-}" = 1 ]; then
  s3port=$((BASE_PORT + 20))
  mkdir -p "$work/s3/fdo"
  mv "$work/data/main" "$work/s3/fdo/main"
  start_versitygw "$s3port" "$work/s3"
  s3env=(LAKEFS_URL="http://127.0.0.1:$s3port" LAKEFS_REPO=fdo LAKEFS_USER="$key" LAKEFS_PASSWORD="$secret")
fi

export LOG_FORMAT=json LOG_LEVEL=warn ADMIN_ADDR=127.0.0.1:0
port=$BASE_PORT rport=$((BASE_PORT + 10))
env "${s3env[@]}" "$BIN/retrieve-svc" --listen "127.0.0.1:$rport" --data-dir "$work/data" --seed-samples=false 2>"$work/retrieve.log" & pids+=($!); rpid=$!
"$BIN/doip-gateway" --host 127.0.0.1 --port "$port" --retrieve-addr "127.0.0.1:$rport" --tls-mode off \
  --max-conns-per-ip $((READERS + 16)) 2>"$work/gateway.log" & pids+=($!); gpid=$!
wait_hello "$BIN" "$port" || true
bench() { "$BIN/doipbench" -addr "127.0.0.1:$port" -pids "gateway=$gpid,retrieve-svc=$rpid" "$@"; }
# Warm both processes up with one whole download, so that "before" is a served state.
bench -scenario component -object Q900064 -component big.bin -conns 1 -n 1 -duration 30s >/dev/null
echo "# $(date -u +%Y-%m-%d) on $(nproc) cores, $(go version | awk '{print $3}'), binaries from $BIN${S3:+, components from S3 (versitygw), handed off}"
# The fast download first, while nothing else runs; FAST_ONLY=1 stops after it.
bench -scenario component -object Q900512 -component big.bin -conns 1 -n 3 -duration 60s
[ "${FAST_ONLY:-}" = 1 ] && exit 0
bench -scenario slow-readers -object Q900064 -component big.bin -conns "$READERS" -rate "$RATE" -duration "$DURATION"
