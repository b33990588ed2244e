#!/usr/bin/env bash
# Run every cargo-fuzz target of rankproof, one after the other.
#
#   fuzz/run.sh [SECONDS_PER_TARGET] [TARGET...]
#
# Defaults: 300 seconds, all targets. Needs a nightly toolchain (rustup);
# installs cargo-fuzz if it is missing. Each target starts from the
# committed seeds (fuzz/seeds/<target>) plus its growing local corpus
# (fuzz/corpus/<target>, git-ignored); crashers land in
# fuzz/artifacts/<target>/ and the libFuzzer log in fuzz/artifacts/<target>.log.
# Tokens in fuzz/dicts/<target>.dict are given to libFuzzer as a dictionary.
# Prints one summary line per target and exits 1 if any target crashed.
set -uo pipefail

secs="${1:-300}"
shift || true
cd "$(dirname "$0")"
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(dataset manifest receipt note entry jcs)
fi

if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
  echo "installing cargo-fuzz" >&2
  cargo install cargo-fuzz >&2 || exit 2
fi
cargo +nightly fuzz build >&2 || exit 2

summary=()
failed=0
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t" "artifacts/$t"
  log="artifacts/$t.log"
  touch "$log.start"
  echo "fuzzing $t for ${secs}s (log: fuzz/$log)" >&2
  dict=()
  [ -f "dicts/$t.dict" ] && dict=(-dict="dicts/$t.dict")
  # One process (no -jobs/-workers): the machine is shared.
  cargo +nightly fuzz run "$t" "corpus/$t" "seeds/$t" -- \
    -max_total_time="$secs" -print_final_stats=1 -timeout=10 \
    -rss_limit_mb=2048 -max_len=16384 "${dict[@]}" >"$log" 2>&1
  rc=$?
  runs=$(grep -a 'stat::number_of_executed_units:' "$log" | tail -1 | awk '{print $2}')
  if [ -z "$runs" ]; then
    runs=$(grep -aoE '^#[0-9]+' "$log" | tail -1 | tr -d '#')
  fi
  took=$(grep -aoE 'Done [0-9]+ runs in [0-9]+ second' "$log" | tail -1 | awk '{print $5}')
  if [ -z "$took" ]; then
    took=$(grep -aoE 'time: [0-9]+' "$log" | tail -1 | awk '{print $2}')
  fi
  took="${took:-$secs}"
  rate=$(( ${runs:-0} / (took > 0 ? took : 1) ))
  crashes=$(find "artifacts/$t" -maxdepth 1 -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) -newer "$log.start" 2>/dev/null | wc -l)
  if [ "$rc" -ne 0 ] && [ "$crashes" -eq 0 ]; then crashes=1; fi
  [ "$crashes" -gt 0 ] && failed=1
  line=$(printf '%-9s runs=%-10s secs=%-5s exec/s=%-7s crashes=%s' "$t" "${runs:-0}" "$took" "$rate" "$crashes")
  summary+=("$line")
  echo "$line" >&2
done

echo "== fuzz summary (${secs}s per target) =="
printf '%s\n' "${summary[@]}"
exit $failed
