#!/usr/bin/env bash
# make-samples.sh regenerates the binary and derived sample components from the sources in
# this folder. It is not run at build or test time: its outputs are committed.
#
#   src/paper.tex -> objects/main/00/01/23/Q123/components/main-pdf   (pdflatex, twice)
#   src/paper.tex -> objects/main/00/01/23/Q123/components/source.tex (copied)
#   (awk)         -> objects/main/00/04/56/Q456/components/data.csv   (the paper's experiment)
#
# Needs pdflatex with amsmath (Debian: texlive-latex-base) and awk. The PDF is reproducible:
# SOURCE_DATE_EPOCH fixes the dates, and the pdfTeX primitives below drop the creation date,
# the trailer /ID and the PTEX.* info keys.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
objects="$here/../objects"
q123="$objects/main/00/01/23/Q123/components"
q456="$objects/main/00/04/56/Q456/components"

export SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-1710417600}" # 2024-03-14T12:00:00Z
export FORCE_SOURCE_DATE=1
export TZ=UTC LC_ALL=C

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

cp "$here/paper.tex" "$tmp/paper.tex"
(
	cd "$tmp"
	for pass in 1 2; do
		if ! pdflatex -interaction=nonstopmode -halt-on-error -jobname=paper \
			'\pdfinfoomitdate=1 \pdftrailerid{} \pdfsuppressptexinfo=-1 \input{paper.tex}' \
			>"pass$pass.out" 2>&1; then
			cat "pass$pass.out" >&2
			echo "make-samples: pdflatex pass $pass failed" >&2
			exit 1
		fi
	done
	if grep -q 'Rerun to get cross-references right\|undefined' paper.log; then
		grep 'Rerun to get cross-references right\|undefined' paper.log >&2
		echo "make-samples: unresolved references after two passes" >&2
		exit 1
	fi
)

mkdir -p "$q123" "$q456"
cp "$tmp/paper.pdf" "$q123/main-pdf"
cp "$here/paper.tex" "$q123/source.tex"

# The experiment of section 4 of the paper: composite trapezoidal rule T_h for the integral
# of exp over [0,1] with n = 1..50 panels, and one Richardson step R = (4 T_{h/2} - T_h) / 3.
awk '
function trap(n,   h, s, j) {
	h = 1.0 / n
	s = 0.5 * (exp(0) + exp(1))
	for (j = 1; j < n; j++) s += exp(j * h)
	return h * s
}
BEGIN {
	I = exp(1) - 1
	print "n,h,trapezoid,trapezoid_error,scaled_trapezoid_error,richardson,richardson_error,scaled_richardson_error"
	for (n = 1; n <= 50; n++) {
		t = trap(n); t2 = trap(2 * n)
		r = (4 * t2 - t) / 3
		printf "%d,%.10f,%.15f,%.6e,%.9f,%.15f,%.6e,%.9f\n", n, 1.0 / n, t, t - I, n * n * (t - I), r, r - I, n * n * n * n * (r - I)
	}
}' >"$tmp/data.csv"
cp "$tmp/data.csv" "$q456/data.csv"

echo "make-samples: wrote $(wc -c <"$q123/main-pdf") bytes of PDF, $(wc -l <"$q456/data.csv") lines of CSV"
