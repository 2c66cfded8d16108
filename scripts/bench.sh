#!/usr/bin/env bash
# Measures the whole system: starts retrieve-svc, invoke-svc and the gateway on loopback
# ports of their own, first over the folder backend, then over S3 (a local versitygw, when
# installed: make tools), with the sample objects plus generated ones of 100 KiB, 64 MiB and
# 512 MiB, and runs doipbench scenarios, reporting throughput, latency and each process's
# peak RSS. Against S3 it also times a direct signed GET of the 512 MiB object with curl.
# It ends with ratios, each against its baseline measured alternately in the same run: the
# 512 MiB download through the hand-off and through the gRPC stream (direct-reads off)
# against a direct signed GET (doipbench's s3-get, 256 KiB reads, and curl) and, when PEER_ADDR names another DOIP server's binary port (MaRDI's
# Python server, say, started by hand), hello, a record and a 100 KiB component against it
# (PEER_OBJECT and PEER_COMPONENT name that server's object and component of about 100 KiB).
# Every load goes to 127.0.0.1 only and is bounded in time.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION="${DURATION:-5s}"
ROUNDS="${ROUNDS:-3}"
PEER_ADDR="${PEER_ADDR:-}"
PEER_OBJECT="${PEER_OBJECT:-Q123}"
PEER_COMPONENT="${PEER_COMPONENT:-}"
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

# measure FIELD ADDR doipbench-flags...: one doipbench run printing only FIELD of its JSON
# result (requests_per_second, mb_per_second, p99_ms), or "failed".
measure() {
  local field=$1 addr=$2; shift 2
  bin/doipbench -addr "$addr" -json "$@" 2>/dev/null | sed -n "s/.*\"$field\":\([0-9.e+-]*\).*/\1/p" | grep . || echo failed
}

# direct_get URL: the speed of one signed GET of URL in MB/s.
direct_get() {
  curl -sf -o /dev/null --aws-sigv4 "aws:amz:us-east-1:s3" --user "$key:$secret" -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" "$1" \
    -w "%{speed_download}" | awk '{ printf "%.1f", $1 / 1e6 }'
}

# ratio NAME "OURS..." "BASELINE...": the medians of two lists of numbers and their ratio.
ratio() {
  awk -v name="$1" -v a="$2" -v b="$3" '
    function median(s,   v, n, i, j, t) {
      n = split(s, v, " ")
      for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (v[j] + 0 < v[i] + 0) { t = v[i]; v[i] = v[j]; v[j] = t }
      return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
    }
    function short(s,   v, n, i, out) {
      n = split(s, v, " ")
      for (i = 1; i <= n; i++) out = out (i > 1 ? " " : "") (v[i] ~ /failed/ ? v[i] : sprintf(v[i] >= 100 ? "%.0f" : "%.2f", v[i]))
      return out
    }
    BEGIN {
      if (a ~ /failed/ || b ~ /failed/) { printf "%-46s ours [%s]  baseline [%s]  (a run failed)\n", name, short(a), short(b); exit }
      printf "%-46s ours [%s]  baseline [%s]  ratio of medians %.2f\n", name, short(a), short(b), median(a) / median(b)
    }'
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

# The stream through retrieve-svc (direct-reads off) beside the hand-off, and the direct GET,
# alternately.
DIRECT_READS=false LAKEFS_URL="http://127.0.0.1:$s3port" LAKEFS_REPO=fdo LAKEFS_USER="$key" LAKEFS_PASSWORD="$secret" \
  start_system s3-stream $((BASE_PORT + 70)) --data-dir "$work/meta"
echo "## ratios, each against its baseline in the same run ($ROUNDS alternating rounds)"
big=(-scenario component -object Q900512 -component big.bin -conns 1 -n 1 -duration 60s)
get=() curlget=() handoff=() stream=()
for _ in $(seq 1 "$ROUNDS"); do
  get+=("$(AWS_ACCESS_KEY_ID="$key" AWS_SECRET_ACCESS_KEY="$secret" measure mb_per_second - -scenario s3-get -url "$url" -n 1 -duration 60s)")
  curlget+=("$(direct_get "$url")")
  handoff+=("$(measure mb_per_second "127.0.0.1:$((BASE_PORT + 50))" "${big[@]}")")
  stream+=("$(measure mb_per_second "127.0.0.1:$((BASE_PORT + 70))" "${big[@]}")")
done
ratio "512 MiB hand-off / direct GET, Go (MB/s)" "${handoff[*]}" "${get[*]}"
ratio "512 MiB gRPC stream / direct GET, Go (MB/s)" "${stream[*]}" "${get[*]}"
ratio "512 MiB hand-off / direct GET, curl (MB/s)" "${handoff[*]}" "${curlget[*]}"
ratio "512 MiB gRPC stream / direct GET, curl (MB/s)" "${stream[*]}" "${curlget[*]}"

if [ -z "$PEER_ADDR" ]; then
  echo "peer: not measured (set PEER_ADDR to another DOIP server's binary port)"
  exit 0
fi
ours=127.0.0.1:$((BASE_PORT + 50))
compare() { # compare NAME FIELD doipbench-flags... (PEER_FLAGS for the peer's differing flags)
  local name=$1 field=$2; shift 2
  local a=() b=()
  for _ in $(seq 1 "$ROUNDS"); do
    a+=("$(measure "$field" "$ours" -duration "$DURATION" "$@")")
    b+=("$(measure "$field" "$PEER_ADDR" -duration "$DURATION" "$@" "${PEER_FLAGS[@]}")")
  done
  ratio "$name" "${a[*]}" "${b[*]}"
}
PEER_FLAGS=()
compare "hello, 1 conn (req/s)" requests_per_second -scenario hello -conns 1
compare "hello, 16 conns (req/s)" requests_per_second -scenario hello -conns 16
compare "hello, 16 conns (p99 ms; lower is better)" p99_ms -scenario hello -conns 16
PEER_FLAGS=(-object "$PEER_OBJECT")
compare "record, 16 conns (req/s)" requests_per_second -scenario record -object Q123 -conns 16
if [ -n "$PEER_COMPONENT" ]; then
  PEER_FLAGS=(-object "${PEER_COMPONENT%%/*}" -component "${PEER_COMPONENT#*/}")
  compare "100 KiB component, 16 conns (req/s)" requests_per_second -scenario component -object Q900100 -component big.bin -conns 16
fi
