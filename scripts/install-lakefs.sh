#!/usr/bin/env bash
# Installs lakefs and lakectl at VERSION into BINDIR, built from the Go module (go install refuses
# the module because its go.mod has a replace directive). The build takes about 20 minutes on two
# cores the first time; the binaries are kept in a per-user cache so that every clone on the
# machine reuses them, and the Go build cache makes a rebuild after that quick.
#
#   scripts/install-lakefs.sh v1.84.0 .tmp/bin
set -euo pipefail

version=${1:?usage: install-lakefs.sh VERSION BINDIR}
bindir=${2:?usage: install-lakefs.sh VERSION BINDIR}
mkdir -p "$bindir"
bindir=$(cd "$bindir" && pwd)

cache=${DOIP_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/doip-gateway}/lakefs-$version
if [[ -x $cache/lakefs && -x $cache/lakectl ]]; then
  echo "lakeFS $version: from the tools cache ($cache)"
  cp "$cache/lakefs" "$cache/lakectl" "$bindir/"
  exit 0
fi

echo "lakeFS $version: downloading the module"
dir=$(GOFLAGS=-mod=mod GOWORK=off go mod download -json "github.com/treeverse/lakefs@$version" |
  sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
[[ -d $dir ]] || { echo "lakeFS $version: the module was not downloaded" >&2; exit 1; }

# The web UI is embedded from webui/dist; the module ships that folder with a placeholder only,
# so the binary serves lakeFS's fallback page instead of the UI. The API and the S3 gateway are
# whole.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
start=$(date +%s)
(
  while sleep 60; do
    echo "lakeFS $version: still building ($(( ($(date +%s) - start) / 60 )) min; about 20 min the first time on two cores)"
  done
) &
ticker=$!
trap 'kill $ticker 2>/dev/null || true; rm -rf "$work"' EXIT

echo "lakeFS $version: building lakefs and lakectl (about 20 minutes the first time on two cores; later builds reuse the cache)"
(cd "$dir" && GOWORK=off GOFLAGS=-mod=readonly CGO_ENABLED=0 go build -trimpath \
  -ldflags "-s -w -X github.com/treeverse/lakefs/pkg/version.Version=${version#v}" \
  -o "$work/" ./cmd/lakefs ./cmd/lakectl)
kill $ticker 2>/dev/null || true

mkdir -p "$cache"
cp "$work/lakefs" "$work/lakectl" "$cache/"
cp "$work/lakefs" "$work/lakectl" "$bindir/"
echo "lakeFS $version: built in $(( $(date +%s) - start )) s"
