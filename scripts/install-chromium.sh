#!/usr/bin/env bash
# Installs Debian's chromium package, which the browser tests of gateway/e2e drive headless,
# unless a Chromium is already on PATH. It needs root (or sudo). Outside CI a machine where
# it cannot install gets a note, and the browser tests skip; with CI set it fails.
set -euo pipefail
for b in chromium chromium-browser google-chrome; do
	if command -v "$b" >/dev/null; then
		echo "chromium: $(command -v "$b")"
		exit 0
	fi
done
sudo=""
if [ "$(id -u)" != 0 ]; then
	if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
		sudo="sudo -n"
	else
		echo "note: cannot install chromium without root; the browser tests will skip" >&2
		[ -z "${CI:-}" ] && exit 0
		exit 1
	fi
fi
if ! command -v apt-get >/dev/null; then
	echo "note: no apt-get here: install Chromium by hand for the browser tests" >&2
	[ -z "${CI:-}" ] && exit 0
	exit 1
fi
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends chromium
