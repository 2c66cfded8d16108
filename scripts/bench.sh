#!/usr/bin/env bash
# Measures the whole system: starts retrieve-svc, invoke-svc and the gateway on loopback
# ports of their own, first over the folder backend, then over S3 (a local versitygw, when
# installed: make tools), with the sample objects plus generated ones of 100 KiB, 64 MiB and
# 512 MiB, and runs doipbench scenarios, reporting throughput, latency and each process's
# peak RSS. Against S3 it also times a direct signed GET of the 512 MiB object with curl.
# Every load goes to 127.0.0.1 only and is bounded in time.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION="${DURATION:-5s}"
BASE_PORT="${BASE_PORT:-23567}"
VERSITYGW="${VERSITYGW:-$(command -v versitygw || echo .tmp/bin/versitygw)}"
# shellcheck source=scripts/bench-lib.sh
. scripts/bench-lib.sh

# populate ROOT: the sample objects and the generated ones.
populate() {
  local root=$1 samples=retrieve-svc/internal/sampledata/objects
  mkdir -p "$root" "$work/records"
  cp -r "$samples/main" "$root/"
  cp "$samples"/records/*.json "$work/records/"
  make_object "$root" "$work/records" Q900100 90/01/00 $((100 << 10))
  make_object "$root" "$work/records" Q900064 90/00/64 $((64 << 20))
  make_object "$root" "$work/records" Q900512 90/05/12 $((512 << 20))
}

export LOG_FORMAT=json LOG_LEVEL=warn ADMIN_ADDR=127.0.0.1:0

# start_system NAME PORT [retrieve-svc flags...]: the three services; sets gpid and rpid.
start_system() {
  local name=$1 port=$2; shift 2
  local rport=$((port + 10)) iport=$((port + 11))
  bin/retrieve-svc --listen "127.0.0.1:$rport" "$@" 2>"$work/$name-retrieve.log" & pids+=($!); rpid=$!
  bin/invoke-svc --listen "127.0.0.1:$iport" --retrieve-addr "127.0.0.1:$rport" 2>"$work/$name-invoke.log" & pids+=($!)
  bin/doip-gateway --host 127.0.0.1 --port "$port" --retrieve-addr "127.0.0.1:$rport" \
    --invoke-addr "127.0.0.1:$iport" --tls-mode off 2>"$work/$name-gateway.log" & pids+=($!); gpid=$!
  wait_hello bin "$port" && return 0
  echo "bench: the $name system did not start; logs in $work" >&2
  return 1
}

run_scenarios() {
  local port=$1
  bench() { bin/doipbench -addr "127.0.0.1:$port" -pids "gateway=$gpid,retrieve-svc=$rpid" -duration "$DURATION" "$@"; }
  bench -scenario hello -conns 1
  bench -scenario hello -conns 16
  bench -scenario record -object Q123 -conns 16
  bench -scenario component -object Q900100 -component big.bin -conns 16
  bench -scenario component -object Q900064 -component big.bin -conns 1 -n 8
  bench -scenario component -object Q900512 -component big.bin -conns 1 -n 3 -duration 60s
  bench -scenario hello-during-download -object Q900512 -component big.bin
}

echo "# $(date -u +%Y-%m-%d) on $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(go version | awk '{print $3}')"
echo "generating objects in $work ..." >&2

echo "## folder backend"
populate "$work/folder"
mv "$work/records" "$work/folder/records"
start_system folder "$BASE_PORT" --data-dir "$work/folder" --seed-samples=false
run_scenarios "$BASE_PORT"
kill -TERM "${pids[@]}" 2>/dev/null || true
wait 2>/dev/null || true
pids=()
rm -rf "$work/folder"

if [ ! -x "$VERSITYGW" ]; then
  echo "## S3: skipped (no versitygw; make tools installs it)"
  exit 0
fi
echo "## S3 backend (versitygw on loopback)"
s3port=$((BASE_PORT + 100))
mkdir -p "$work/s3/fdo"
populate "$work/s3/fdo"
mkdir -p "$work/meta"
mv "$work/records" "$work/meta/records"
start_versitygw "$s3port" "$work/s3"
url="http://127.0.0.1:$s3port/fdo/main/90/05/12/Q900512/components/big.bin"
for i in 1 2 3; do
  curl -sf -o /dev/null --aws-sigv4 "aws:amz:us-east-1:s3" --user "$key:$secret" -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" "$url" \
    -w "direct S3 GET (curl --aws-sigv4), 512 MiB, run $i: %{speed_download} B/s\n" |
    awk '{ $(NF-1) = sprintf("%.1f MB/s", $(NF-1) / 1e6); NF--; print }'
done
LAKEFS_URL="http://127.0.0.1:$s3port" LAKEFS_REPO=fdo LAKEFS_USER="$key" LAKEFS_PASSWORD="$secret" \
  start_system s3 $((BASE_PORT + 50)) --data-dir "$work/meta"
run_scenarios $((BASE_PORT + 50))
