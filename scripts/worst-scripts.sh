#!/bin/sh
# The worst rule scripts a manifest can allow: examples/rules/callcentre with
# every limit at its ceiling and a `score` that only burns one budget until
# the limit stops it. Prints each script's CPU time (GNU time) at N staff.
#
#   scripts/worst-scripts.sh [N]     (default 100000; needs a release build)
set -eu
cd "$(dirname "$0")/.."
N=${1:-100000}
BIN=target/release/rankproof
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 - "$work/calls.csv" "$N" <<'PY'
import random, sys
r = random.Random(1)
with open(sys.argv[1], "w") as f:
    f.write("staff_id,name,calls_handled,csat\n")
    for i in range(int(sys.argv[2])):
        f.write(f"C{i:07d},N{r.randrange(50)},{r.randrange(400)},{r.randrange(10, 50) / 10}\n")
PY
while IFS='|' read -r name body; do
    pkg="$work/$name"
    cp -r examples/rules/callcentre "$pkg"
    rm -rf "$pkg/tests"
    python3 - "$pkg/package.toml" <<'PY'
import re, sys
p = sys.argv[1]
s = open(p).read()
for k, v in [("max_operations", 1000000), ("max_element_operations", 1000),
             ("max_column_bytes", 4096), ("max_call_levels", 64), ("max_string_size", 65536),
             ("max_array_size", 256), ("max_map_size", 256), ("max_variables", 4096)]:
    s = re.sub(rf"{k} = \d+[^\n]*", f"{k} = {v}", s)
open(p, "w").write(s)
PY
    printf 'fn score(c) {\n    %s\n}\nfn classify(c, scores, standing) { #{ grade: "A", bonus_multiplier: 1 } }\n' "$body" > "$pkg/policy.rhai"
    /usr/bin/time -f "%U %S %M" -o "$work/t" "$BIN" rank --rules "$pkg" --period 2025-03 \
        --input calls="$work/calls.csv" > /dev/null 2> "$work/err" || true
    read -r u s m <<EOT
$(tail -n 1 "$work/t")
EOT
    printf '%-8s user %5s s  sys %5s s  peak %4d MiB  %s\n' "$name" "$u" "$s" $((m / 1024)) \
        "$(grep -o 'stopped by limit [a-z_]* = [0-9]*' "$work/err" || head -c 100 "$work/err")"
done <<'SCRIPTS'
columns|let x = dec(c.csat); loop { let r = ratio(x, x + 7); }
groups|loop { let g = group_mean(c.csat, c.staff_id); }
strings|let s = "x"; let k = 0; while k < 15 { s += s; k += 1; } loop { let t = s + s; }
arrays|let a = []; while a.len() < 256 { a.push("0123456789"); } loop { let b = a; let k = b.len(); }
SCRIPTS
