# Sourced by the scripts in scripts/. new_ledger BIN ORIGIN RULES_DIR: in the
# current directory, make the log, admin, hr, steward and operator keys
# (log.key, admin.key, hr.key, st.key, op.key) and a ledger (./ledger) with
# the three roles granted, and publish RULES_DIR.
new_ledger() {
  local R=$1 origin=$2 rules=$3 A HR ST OP
  $R key new --name "$origin" --out log.key >/dev/null
  A=$($R key new --name admin --out admin.key | tail -1)
  HR=$($R key new --name hr --out hr.key | tail -1)
  ST=$($R key new --name steward --out st.key | tail -1)
  OP=$($R key new --name operator --out op.key | tail -1)
  $R init --origin "$origin" --log-key log.key --admin "$A" >/dev/null
  $R key grant --signer admin.key --role hr --vkey "$HR" >/dev/null
  $R key grant --signer admin.key --role steward --vkey "$ST" >/dev/null
  $R key grant --signer admin.key --role operator --vkey "$OP" >/dev/null
  $R rules publish --signer hr.key "$rules" >/dev/null
}
