# The common part of bench.sh and bench-slow.sh, sourced by both after `cd` to the repository
# root: a work folder removed on exit with every process started through pids, the generated
# objects, and a local versitygw.

work="$(mktemp -d)"
pids=()
cleanup() {
  [ ${#pids[@]} -gt 0 ] && kill -TERM "${pids[@]}" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# make_object ROOT RECORDS QID SHARD BYTES: a record in the folder RECORDS and a component
# big.bin of BYTES random bytes below ROOT in the storage layout.
make_object() {
  local root=$1 records=$2 qid=$3 shard=$4 bytes=$5
  mkdir -p "$records" "$root/main/$shard/$qid/components"
  head -c "$bytes" /dev/urandom > "$root/main/$shard/$qid/components/big.bin"
  cat > "$records/$qid.json" <<JSON
{"@id":"https://fdo.example.org/fdo/$qid","@type":"DigitalObject",
 "kernel":{"digitalObjectType":"https://fdo.example.org/fdo/types/Dataset",
  "fdo:hasComponent":[{"@id":"#big.bin","componentId":"big.bin","mediaType":"application/octet-stream"}]}}
JSON
}

# start_versitygw PORT DIR: a versitygw ($VERSITYGW, else on PATH, else from make tools) on
# 127.0.0.1:PORT serving the buckets in DIR, with a fresh key and secret in $key and $secret;
# it returns once versitygw answers.
start_versitygw() {
  local port=$1 dir=$2
  VERSITYGW="${VERSITYGW:-$(command -v versitygw || echo .tmp/bin/versitygw)}"
  key="bench$RANDOM" secret="secret$RANDOM$RANDOM"
  "$VERSITYGW" --access "$key" --secret "$secret" --port "127.0.0.1:$port" --quiet posix "$dir" 2>"$work/versitygw.log" & pids+=($!)
  for _ in $(seq 1 100); do
    curl -s -o /dev/null "http://127.0.0.1:$port/" && break # any answer: it listens
    sleep 0.1
  done
}

# wait_hello BIN PORT: wait up to 10 s for the gateway on PORT to answer hello.
wait_hello() {
  for _ in $(seq 1 100); do
    "$1/doipctl" hello --port "$2" -q >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  return 1
}
