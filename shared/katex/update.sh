#!/bin/sh
# Refreshes the KaTeX files the web pages serve (no CDN): katex.min.js, katex.min.css and
# the woff2 fonts, from the katex npm package of the version below. Run it from anywhere;
# it needs npm and tar. Then update VERSION in README.md and commit the files.
set -eu
VERSION="${1:-0.19.1}"
here="$(cd "$(dirname "$0")" && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "katex@$VERSION" >/dev/null && tar xzf "katex-$VERSION.tgz")
rm -rf "$here/fonts"
mkdir -p "$here/fonts"
cp "$tmp/package/dist/katex.min.js" "$tmp/package/dist/katex.min.css" "$tmp/package/LICENSE" "$here/"
cp "$tmp/package/dist/fonts/"*.woff2 "$here/fonts/"
echo "katex $VERSION copied to $here"
