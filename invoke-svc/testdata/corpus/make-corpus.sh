#!/usr/bin/env bash
# make-corpus.sh: compile every NN-name.tex of this folder to NN-name.pdf (pdflatex, twice,
# reproducibly) and write the ground truth NN-name.truth.json.
#
# Needs pdflatex with amsmath, lmodern, and the Times and Palatino fonts
# (Debian: texlive-latex-base, texlive-fonts-recommended) and Go.
#
#   ./make-corpus.sh            # all papers
#   ./make-corpus.sh 05-*.tex   # some
#
# Each paper is compiled with eqtruth-hook.tex loaded first; the hook fixes the PDF's
# metadata (no dates, no trailer id) and records in NN-name.eqt where TeX printed every
# equation number (page and position). The truth step (bench-extract -write-truth) checks
# that the LaTeX path numbers the equations exactly as TeX did and writes the truth file.
set -euo pipefail
cd "$(dirname "$0")"
export SOURCE_DATE_EPOCH=1700000000 FORCE_SOURCE_DATE=1 TZ=UTC LC_ALL=C
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if [ $# -eq 0 ]; then set -- [0-9][0-9]-*.tex; fi
for tex in "$@"; do
	base=${tex%.tex}
	echo "== $base"
	for pass in 1 2; do
		if ! pdflatex -interaction=nonstopmode -halt-on-error -output-directory "$work" \
			-jobname "$base" "\\input{eqtruth-hook.tex}\\input{$tex}" >"$work/$base.stdout" 2>&1; then
			tail -40 "$work/$base.log"
			exit 1
		fi
	done
	if grep -q "Rerun to get" "$work/$base.log"; then
		echo "$base: labels still changing after two runs" >&2
		exit 1
	fi
	cp "$work/$base.pdf" "$base.pdf"
	printf '%s: %s pages, %s bytes\n' "$base" \
		"$(pdfinfo "$base.pdf" 2>/dev/null | awk '/^Pages:/ {print $2}')" "$(wc -c <"$base.pdf")"
done
go run ../../cmd/bench-extract -write-truth -eqt-dir "$work" -corpus . "$@"
