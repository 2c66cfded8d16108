#!/usr/bin/env bash
# Builds the given commands (e.g. gateway/cmd/doipctl) into bin/ in one go build, and shows
# progress while it works: a line per finished binary, and on a terminal a running count of
# compiled packages. The first build compiles every dependency and takes minutes; later
# builds take seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

pkgs=() names=()
for c in "$@"; do
  pkgs+=("./$c")
  names+=("$(basename "$c")")
done
mkdir -p bin

first=
for n in "${names[@]}"; do
  [ -e "bin/$n" ] || first=1
done
total=$(go list -deps "${pkgs[@]}" | wc -l)
echo "building ${names[*]} into bin/ ($total packages)"
if [ -n "$first" ]; then
  echo "  a first build compiles them all: about 4 minutes on 2 cores (and module downloads on a fresh machine); later builds take seconds"
fi

start=$(mktemp)
log=$(mktemp)
pid=
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null
  rm -f "$start" "$log"
}
trap cleanup EXIT
tty=
[ -t 1 ] && tty=1

SECONDS=0
go build -v -trimpath -o bin/ "${pkgs[@]}" 2>"$log" &
pid=$!
built=" "
report() {
  for n in "${names[@]}"; do
    if [[ "$built" != *" $n "* && "bin/$n" -nt "$start" ]]; then
      built+="$n "
      [ -n "$tty" ] && printf '\r\033[K'
      echo "  built bin/$n (${SECONDS}s)"
    fi
  done
}
while kill -0 "$pid" 2>/dev/null; do
  report
  if [ -n "$tty" ]; then
    printf '\r  %d of at most %d packages compiled, %ds ' "$(grep -c '^[[:alnum:]._/-]*$' "$log" || true)" "$total" "$SECONDS"
  fi
  sleep 1
done
status=0
wait "$pid" || status=$?
pid=
[ -n "$tty" ] && printf '\r\033[K'
if [ "$status" -ne 0 ]; then
  # go build -v lists each package it compiles; keep only the error lines.
  grep -v '^[[:alnum:]._/-]*$' "$log" >&2 || true
  echo "build failed" >&2
  exit "$status"
fi
report
echo "done in ${SECONDS}s"
