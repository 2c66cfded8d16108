#!/usr/bin/env bash
# Installs the Debian packages the tests drive, unless their commands are already on PATH:
# chromium (the browser tests of gateway/e2e, headless), nodejs (the KaTeX parse check of
# the equation corpus) and poppler-utils (pdftoppm, which renders a display's region of a PDF
# page for a vision model). It needs root (or sudo).
# Outside CI a machine where it cannot install gets a note, and those tests skip; with CI
# set it fails.
set -euo pipefail
# command:package pairs; a command found under any of its names needs no package.
wanted=("chromium|chromium-browser|google-chrome:chromium" "node|nodejs:nodejs" "pdftoppm:poppler-utils")
missing=()
for w in "${wanted[@]}"; do
	names=${w%%:*} pkg=${w##*:} found=""
	for b in ${names//|/ }; do
		if command -v "$b" >/dev/null; then
			found=$(command -v "$b")
			break
		fi
	done
	if [ -n "$found" ]; then
		echo "$pkg: $found"
	else
		missing+=("$pkg")
	fi
done
[ ${#missing[@]} -eq 0 ] && exit 0
sudo=""
if [ "$(id -u)" != 0 ]; then
	if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
		sudo="sudo -n"
	else
		echo "note: cannot install ${missing[*]} without root; the tests that need them will skip" >&2
		[ -z "${CI:-}" ] && exit 0
		exit 1
	fi
fi
if ! command -v apt-get >/dev/null; then
	echo "note: no apt-get here: install ${missing[*]} by hand for the tests that need them" >&2
	[ -z "${CI:-}" ] && exit 0
	exit 1
fi
echo "installing ${missing[*]} (apt-get)"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
