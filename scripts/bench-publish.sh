#!/usr/bin/env bash
# Pair two builds on `rank --publish` of N staff (default 100000) from
# recorded datasets: prepares a ledger with the three sources recorded
# (with binary B, the older build: a newer build reads older ledgers, not
# always the other way round), then farm-bench runs A and B in turn, each
# on a fresh copy of that ledger. Usage: scripts/bench-publish.sh BIN_A BIN_B [N]
set -euo pipefail
A=$(realpath "$1"); B=$(realpath "$2"); N=${3:-100000}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
W=$(mktemp -d "${TMPDIR:-/tmp}/rankproof-bench-publish.XXXX")
cd "$W"
$B gen --n "$N" --seed 1 --out c >/dev/null
. "$ROOT/scripts/lib/ledger.sh"
new_ledger "$B" bench.example/log "$ROOT/rules/marketing-v1"
for s in crm survey oa; do
  $B input record --signer st.key --period 2025-Q1 --source $s c/$s.csv >/dev/null
done
cat > run.sh <<RUN
#!/bin/sh
cd "$W" && rm -rf "L\$2" && cp -a ledger "L\$2" && exec "\$1" rank --ledger "L\$2" --period 2025-Q1 --rules marketing@1.0.0 --publish --signer op.key --format csv >/dev/null
RUN
chmod +x run.sh
farm-bench -n ${RUNS:-3} --timeout 300 --vs "$W/run.sh $B b" -- "$W/run.sh" "$A" a
echo "work directory $W"
