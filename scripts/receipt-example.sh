#!/usr/bin/env bash
# Regenerate the worked receipt of FORMAT.md section 12.1,
# tests/e2e/data/receipt-example.json, with the release binary, and print
# the figures that section quotes (its log key, hashes and lengths). Keys,
# salts and the nonce are fresh random values on every run, so after running
# it, copy the printed figures into FORMAT.md section 12.1 and the log key
# into the test `receipt_worked_example_verifies` (tests/e2e/workflow.rs).
#
#   scripts/receipt-example.sh
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cargo build --release -p rankproof-cli --manifest-path "$ROOT/Cargo.toml" >/dev/null
R="$ROOT/target/release/rankproof"
OUT="$ROOT/tests/e2e/data/receipt-example.json"
W=$(mktemp -d "${TMPDIR:-/tmp}/rankproof-receipt.XXXX")
trap 'rm -rf "$W"' EXIT
cd "$W"
$R gen --n 3 --seed 7 --out c >/dev/null
. "$ROOT/scripts/lib/ledger.sh"
new_ledger "$R" example.org/ranking-log "$ROOT/rules/marketing-v1"
for s in crm survey oa; do
  $R input record --signer st.key --period 2025-Q1 --source $s c/$s.csv >/dev/null
done
$R rank --period 2025-Q1 --rules marketing@1.0.0 --publish --signer op.key >/dev/null
rm -f "$OUT"
$R receipt issue --ranking 8 --staff E000001 --out "$OUT" >/dev/null
LV=$($R key show log.key | sed -n 's/^vkey: *//p')
$R receipt verify "$OUT" --log-vkey "$LV" >/dev/null
python3 "$ROOT/tests/oracle/verify_receipt.py" "$OUT" --log-vkey "$LV" >/dev/null
echo "wrote $OUT"
echo "log key: $LV"
python3 "$ROOT/tests/oracle/receipt_figures.py" "$OUT"
