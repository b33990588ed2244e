#!/bin/sh
# Dry-run ranking benchmark, whole process, against a straightforward pandas
# (float64) implementation of the same policy, in the same run:
# `rankproof rank` of N staff from three CSV files to JSON, A B A B ...
#
#   scripts/bench-rank.sh [N] [RUNS]      (defaults 100000 and 5)
#
# Needs a release build (cargo build --release -p rankproof-cli), python3
# with pandas, and GNU time (/usr/bin/time). Prints each run and the medians
# of wall time and peak memory, and the median ratio A/B.
set -eu
cd "$(dirname "$0")/.."
N=${1:-100000}
RUNS=${2:-5}
BIN=target/release/rankproof
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$BIN" gen --n "$N" --out "$work/c" > /dev/null
a() {
    /usr/bin/time -f "%e %M" -o "$work/t" "$BIN" rank --rules rules/marketing-v1 --period 2025-Q1 \
        --input crm="$work/c/crm.csv" --input survey="$work/c/survey.csv" \
        --input oa="$work/c/oa.csv" --format json > "$work/a.json"
    cat "$work/t"
}
b() {
    /usr/bin/time -f "%e %M" -o "$work/t" python3 engine/benches/pandas_marketing.py "$work/c" > "$work/b.json"
    cat "$work/t"
}
a > /dev/null; b > /dev/null   # warm-up
: > "$work/runs"
i=0
while [ "$i" -lt "$RUNS" ]; do
    ra=$(a); rb=$(b)
    echo "$ra $rb" >> "$work/runs"
    echo "run $((i + 1)): rankproof ${ra% *} s, $(( ${ra#* } / 1024 )) MiB; pandas ${rb% *} s, $(( ${rb#* } / 1024 )) MiB"
    i=$((i + 1))
done
python3 - "$work/runs" "$N" <<'PY'
import statistics, sys
rows = [list(map(float, l.split())) for l in open(sys.argv[1])]
ta, ma, tb, mb = (statistics.median(c) for c in zip(*rows))
ratio = statistics.median(r[0] / r[2] for r in rows)
print(f"N = {sys.argv[2]}: rankproof median {ta:.2f} s, {ma/1024:.0f} MiB; "
      f"pandas median {tb:.2f} s, {mb/1024:.0f} MiB; ratio rankproof/pandas {ratio:.2f}")
PY
