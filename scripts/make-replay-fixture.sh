#!/usr/bin/env bash
# Writes the recorded rankings of script API 2 that every later engine must
# replay byte for byte (RULES.md section 3): an audit bundle of a real
# ledger, in tests/e2e/data/replay-api2/, checked by the e2e test
# `recorded_script_api_2_rankings_replay_byte_for_byte`.
#
#   scripts/make-replay-fixture.sh [BIN]     (default target/release/rankproof)
#
# Run it only to add a fixture for a new script API, never to "fix" this
# one: if the test fails, the engine changed published results.
#
# The ledger holds three rankings, each published from recorded exports:
# marketing 1.0.0 for 2025-Q1 and marketing 2.0.0 for 2025-Q2, each on a
# cohort of 300 staff from the oracle's generator (edge cases included:
# zero leads, zero previous sales, amounts written `0.0`), and
# callcentre 0.1.0 (examples/rules) for 2025-01 on its own case data.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
R=$(realpath "${1:-$ROOT/target/release/rankproof}")
OUT="$ROOT/tests/e2e/data/replay-api2"
W=$(mktemp -d "${TMPDIR:-/tmp}/rankproof-fixture.XXXX")
trap 'rm -rf "$W"' EXIT
cd "$W"
. "$ROOT/scripts/lib/ledger.sh"
new_ledger "$R" fixtures.rankproof.example/replay-api2 "$ROOT/rules/marketing-v1"
$R rules publish --signer hr.key "$ROOT/rules/marketing-v2" >/dev/null
$R rules publish --signer hr.key "$ROOT/examples/rules/callcentre" >/dev/null
for q in 1 2; do
  python3 "$ROOT/tests/oracle/gen_cohort.py" --n 300 --seed $((40 + q)) --out "c$q" >/dev/null
  for s in crm survey oa; do
    $R input record --signer st.key --period "2025-Q$q" --source $s --rules "marketing@$q.0.0" "c$q/$s.csv" >/dev/null
  done
  $R rank --period "2025-Q$q" --rules "marketing@$q.0.0" --publish --signer op.key --format csv >/dev/null
done
cp "$ROOT/examples/rules/callcentre/tests/basic/calls.csv" calls.csv
$R input record --signer st.key --period 2025-01 --source calls calls.csv >/dev/null
$R rank --period 2025-01 --rules callcentre@0.1.0 --publish --signer op.key --format csv >/dev/null
$R verify >/dev/null
rm -rf "$OUT"
$R export --out "$OUT" >/dev/null
$R key show log.key | sed -n 's/^vkey: *//p' >"$OUT/../replay-api2.log-vkey"
echo "wrote $OUT ($(du -sh "$OUT" | cut -f1)); log key in $OUT/../replay-api2.log-vkey"
