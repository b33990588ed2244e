#!/usr/bin/env bash
# Builds, threads and the oracle agree (issue 11, "done when"; run by .ci/run).
#
#   scripts/agreement.sh DEBUG_BIN RELEASE_BIN
#
# For every cohort below and both marketing packages (1.0.0 and 2.0.0), the
# dry run `rankproof rank ... --format json` is run by the debug and the
# release build at 1, 2 and 7 threads (RAYON_NUM_THREADS): the six documents
# must be byte-identical, and equal, field by field, to the independent
# Python oracle (tests/oracle/marketing.py). The cohorts come from the
# oracle's own generator (edge cases: tiny cohorts, all-zero leads, a BOM,
# amounts written `0.0`) and from `rankproof gen`; the two of 40,000 staff
# are large enough that the engine scores them in parallel chunks (from
# 32,768 staff), which smaller ones never reach. Then every bundled package's
# own cases (`rules check`) pass in both builds at each thread count.
# Prints one line per check and a closing count; exits 1 on any difference.
set -euo pipefail
DBG=$(realpath "$1")
REL=$(realpath "$2")
ROOT=$(cd "$(dirname "$0")/.." && pwd)
O="$ROOT/tests/oracle"
W=$(mktemp -d "${TMPDIR:-/tmp}/rankproof-agreement.XXXX")
trap 'rm -rf "$W"' EXIT
passed=0
failed=0
bad=0
# A check (one cohort and package, or one package's cases) fails once,
# however many of its runs differ; each difference is printed.
fail() { echo "FAIL: $*"; bad=1; }
done_check() {
  if [ "$bad" = 0 ]; then
    echo "ok: $*"
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
  fi
}

# name, staff, seed, generator options ("rankproof" = `rankproof gen`)
cohorts=(
  "tiny 7 31 --small"
  "zero-leads 40 32 --all-zero-leads"
  "bom 150 33 --bom"
  "mixed 600 34"
  "parallel 40000 35"
  "engine-gen 40000 1 rankproof"
)
for c in "${cohorts[@]}"; do
  read -r name n seed opts <<<"$c"
  d="$W/$name"
  if [ "$opts" = rankproof ]; then
    "$REL" gen --n "$n" --seed "$seed" --out "$d" >/dev/null
  else
    # shellcheck disable=SC2086 # the options are words
    python3 "$O/gen_cohort.py" --n "$n" --seed "$seed" --out "$d" $opts >/dev/null
  fi
  for version in 1.0.0 2.0.0; do
    pkg="$ROOT/rules/marketing-v${version%%.*}"
    what="$name ($n staff) marketing $version"
    python3 "$O/marketing.py" --crm "$d/crm.csv" --survey "$d/survey.csv" --oa "$d/oa.csv" \
      --rules-version "$version" >"$d/oracle.json"
    first=""
    bad=0
    for build in debug release; do
      bin=$DBG
      [ "$build" = release ] && bin=$REL
      for t in 1 2 7; do
        out="$d/$build-$t-$version.json"
        if ! RAYON_NUM_THREADS=$t "$bin" rank --rules "$pkg" --period 2025-Q1 \
          --input crm="$d/crm.csv" --input survey="$d/survey.csv" --input oa="$d/oa.csv" \
          --format json >"$out" 2>"$d/err"; then
          fail "$what: $build build at $t threads: $(head -c 600 "$d/err")"
          continue
        fi
        if [ -z "$first" ]; then
          first=$out
        elif ! cmp -s "$first" "$out"; then
          fail "$what: $build build at $t threads differs from $(basename "$first")"
        fi
      done
    done
    if [ "$bad" = 0 ] && ! python3 "$O/compare.py" "$d/oracle.json" "$first" >"$d/cmp" 2>&1; then
      fail "$what: differs from the oracle: $(head -n 5 "$d/cmp")"
    fi
    done_check "$what: 2 builds x 3 thread counts identical ($(sha256sum <"${first:-/dev/null}" | cut -c1-16)), equal to the oracle"
  done
done

for pkg in rules/marketing-v1 rules/marketing-v2 examples/rules/callcentre; do
  bad=0
  for build in debug release; do
    bin=$DBG
    [ "$build" = release ] && bin=$REL
    for t in 1 2 7; do
      if ! RAYON_NUM_THREADS=$t "$bin" rules check "$ROOT/$pkg" >"$W/check" 2>&1; then
        fail "$pkg: rules check, $build build at $t threads: $(tail -n 5 "$W/check")"
      fi
    done
  done
  done_check "$pkg: its own cases pass in 2 builds x 3 thread counts"
done

echo "agreement: $passed passed, $failed failed"
[ "$failed" = 0 ]
