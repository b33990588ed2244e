#!/usr/bin/env bash
# Time the whole workflow on a synthetic cohort of N staff (default 100000):
# record three sources, rank and publish, verify, replay, issue and verify a
# receipt. Builds the release binary first. Usage: scripts/bench-workflow.sh [N]
set -euo pipefail
N=${1:-100000}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cargo build --release -p rankproof-cli --manifest-path "$ROOT/Cargo.toml" >/dev/null
R="$ROOT/target/release/rankproof"
W=$(mktemp -d "${TMPDIR:-/tmp}/rankproof-bench.XXXX")
cd "$W"
t() { local what=$1; shift; /usr/bin/time -f "$what: %e s wall, %U s user, peak %M KB" "$@"; }
$R gen --n "$N" --seed 1 --out c >/dev/null
. "$ROOT/scripts/lib/ledger.sh"
new_ledger "$R" bench.example/log "$ROOT/rules/marketing-v1"
for s in crm survey oa; do
  t "input record $s" $R input record --signer st.key --period 2025-Q1 --source $s c/$s.csv >/dev/null
done
before=$(du -sb ledger | cut -f1)
t "rank --publish" $R rank --period 2025-Q1 --rules marketing@1.0.0 --publish --signer op.key --format csv > out.csv
after=$(du -sb ledger | cut -f1)
echo "ledger growth by the ranking: $(( (after - before) / 1048576 )) MiB ($((after - before)) bytes; result document $($R ranking show 8 --format json | head -c -1 | wc -c) bytes)"
t "verify" $R verify >/dev/null
t "replay --all" $R replay --all >/dev/null
ID=$(sed -n 2p out.csv | cut -d, -f1)
t "receipt issue" $R receipt issue --ranking 8 --staff "$ID" --out r.json >/dev/null
LV=$($R key show log.key | sed -n 's/^vkey: *//p')
t "receipt verify" $R receipt verify r.json --log-vkey "$LV" >/dev/null
t "dry run from files" $R rank --rules "$ROOT/rules/marketing-v1" --period 2025-Q1 \
  --input crm=c/crm.csv --input survey=c/survey.csv --input oa=c/oa.csv --format csv >/dev/null
echo "ledger size: $(du -sh ledger | cut -f1)   (work directory $W)"
