#!/bin/sh
# The same hostile rule packages, and an honest ranking, through a debug and
# a release build of rankproof: every output (stdout, stderr, exit status)
# must be byte-identical. Results must never depend on the build.
#
#   scripts/hostile-builds.sh            (builds both profiles first)
#   SKIP_BUILD=1 scripts/hostile-builds.sh
set -eu
cd "$(dirname "$0")/.."
if [ -z "${SKIP_BUILD:-}" ]; then
    cargo build -q -p rankproof-cli
    cargo build -q --release -p rankproof-cli
fi
DEBUG=target/debug/rankproof
RELEASE=target/release/rankproof
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# name | code placed at the start of fn score
cat > "$work/hostile.txt" <<'SNIPPETS'
loop|let i = 0; loop { i += 1; }
string|let s = "x"; loop { s += s; }
array|let a = []; loop { a.push(1); }
recursion|fn_deep(0);
element-ops|let t = c.csat; loop { t = t + 1; }
column-bytes|let kept = []; loop { kept.push(c.csat + 1); }
if-on-column|if c.leads > 0 { 1 }
inexact|let t = c.csat * 0.0000000000000000000000000001 * 0.5; return #{ sales: t, customer: t, teamwork: t, total: t };
overflow|let t = (c.leads + 1) * 9007199254740991 * 9007199254740991; return #{ sales: t, customer: t, teamwork: t, total: t };
division|let t = ratio(c.csat, c.leads - c.leads); return #{ sales: t, customer: t, teamwork: t, total: t };
slash|let t = c.csat / 3;
power|let t = 2.0 ** 0.5;
sqrt|let t = sqrt(2.0);
trig|let t = tan(1.5707963267948966);
sleep|sleep(1000);
sort|let a = [3, 1, 2]; a.sort();
cut|let k = cut(79228162514264337593543950335, 79228162514264337593543950335);
closure|let f = |x| x + 1;
fn-ptr|let f = Fn("score");
clock|let t = timestamp();
SNIPPETS

n=0
fail=0
while IFS='|' read -r name code; do
    pkg="$work/pkg-$name"
    cp -r rules/marketing-v1 "$pkg"
    python3 - "$pkg/policy.rhai" "$code" <<'PY'
import sys
p, code = sys.argv[1], sys.argv[2]
s = open(p, encoding="utf-8").read()
hook = "fn score(c) {"
assert hook in s
s = s.replace(hook, "fn fn_deep(n) { fn_deep(n + 1) }\n" + hook + "\n    " + code, 1)
open(p, "w", encoding="utf-8").write(s)
PY
    for b in debug release; do
        bin=$DEBUG; [ "$b" = release ] && bin=$RELEASE
        set +e
        "$bin" rules check "$pkg" > "$work/$name.$b.out" 2>&1
        echo "exit $?" >> "$work/$name.$b.out"
        set -e
    done
    n=$((n + 1))
    if cmp -s "$work/$name.debug.out" "$work/$name.release.out"; then
        printf 'same   %-13s %s\n' "$name" "$(grep -m1 -E 'policy.rhai' "$work/$name.release.out" | sed 's/.*policy.rhai/policy.rhai/' | cut -c1-120)"
    else
        fail=$((fail + 1))
        echo "DIFFER $name"; diff "$work/$name.debug.out" "$work/$name.release.out" || true
    fi
    if grep -q "panicked" "$work/$name.release.out" "$work/$name.debug.out"; then
        fail=$((fail + 1)); echo "PANIC  $name"
    fi
done < "$work/hostile.txt"

# An honest ranking: the same bytes from both builds.
"$RELEASE" gen --n 20000 --seed 7 --out "$work/cohort" > /dev/null
for b in debug release; do
    bin=$DEBUG; [ "$b" = release ] && bin=$RELEASE
    "$bin" rank --rules rules/marketing-v1 --period 2025-Q1 \
        --input crm="$work/cohort/crm.csv" --input survey="$work/cohort/survey.csv" \
        --input oa="$work/cohort/oa.csv" --format json > "$work/rank.$b.json"
done
n=$((n + 1))
if cmp -s "$work/rank.debug.json" "$work/rank.release.json"; then
    echo "same   ranking       20000 staff, $(wc -c < "$work/rank.release.json") bytes"
else
    fail=$((fail + 1)); echo "DIFFER ranking"
fi
echo "$n comparisons, $fail differences or panics"
[ "$fail" -eq 0 ]
