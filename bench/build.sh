#!/bin/sh
# Build benchmarks, forge against its peers in the same run:
#  1. 1,000 trivial import elements (bench/gen-elements.sh, fan):
#     first build and no-op build, forge build against bst build;
#  2. staging a cached 500 MB artifact (5,000 files of 100 KiB) the way a
#     read-only sandbox root is staged (hardlinks from the cache, through
#     `forge checkout --hardlinks`), against `cp -al` of the same tree.
# Usage: bench/build.sh [BST]   (BST: bst 2.8.1; skipped if absent)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
gen="$here/gen-elements.sh"
BST=${1:-${BST:-bst}}
FORGE="$root/target/release/forge"
(cd "$root" && cargo build --release -q)
work=$(mktemp -d /dev/shm/forge-bench.XXXXXX 2>/dev/null || mktemp -d)
trap 'rm -rf "$work"' EXIT
now() { date +%s%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b - a) / 1e9 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.0f×", a / b; else print "—" }'; }

sh "$gen" "$work/forge-1k" 1000 fan > /dev/null
t0=$(now); "$FORGE" -C "$work/forge-1k" --cache-dir "$work/forge-cache" build top.bst 2>/dev/null; t1=$(now)
f_first=$(secs "$t0" "$t1")
t0=$(now); "$FORGE" -C "$work/forge-1k" --cache-dir "$work/forge-cache" build top.bst 2>/dev/null; t1=$(now)
f_noop=$(secs "$t0" "$t1")
if command -v "$BST" > /dev/null 2>&1; then
  sh "$gen" "$work/bst-1k" 1000 fan > /dev/null
  export XDG_CACHE_HOME="$work/bst-cache"
  t0=$(now); (cd "$work/bst-1k" && "$BST" --no-interactive build top.bst > /dev/null 2>&1); t1=$(now)
  b_first=$(secs "$t0" "$t1")
  t0=$(now); (cd "$work/bst-1k" && "$BST" --no-interactive build top.bst > /dev/null 2>&1); t1=$(now)
  b_noop=$(secs "$t0" "$t1")
  echo "| 1,000 imports, first build | forge $f_first s | bst $b_first s | $(ratio "$b_first" "$f_first") faster |"
  echo "| 1,000 imports, no-op build | forge $f_noop s | bst $b_noop s | $(ratio "$b_noop" "$f_noop") faster |"
else
  echo "| 1,000 imports, first / no-op build | forge $f_first s / $f_noop s | bst not installed | — |"
fi

mkdir -p "$work/big/elements" "$work/big/tree"
printf 'name: big\nmin-version: 2.0\nelement-path: elements\n' > "$work/big/project.conf"
printf 'kind: import\nsources:\n- kind: local\n  path: tree\n' > "$work/big/elements/big.bst"
python3 - "$work/big/tree" <<'PY'
import os, sys
root = sys.argv[1]
block = os.urandom(100 * 1024)
for d in range(50):
    os.makedirs(f"{root}/d{d:02}", exist_ok=True)
    for f in range(100):
        with open(f"{root}/d{d:02}/f{f:03}", "wb") as out:
            out.write(block[:-8] + (d * 100 + f).to_bytes(8, "little"))
PY
sleep 2  # files younger than 2 s are not put in the digest cache
"$FORGE" -C "$work/big" --cache-dir "$work/big-cache" build big.bst 2>/dev/null
"$FORGE" -C "$work/big" --cache-dir "$work/big-cache" checkout big.bst "$work/reference" --hardlinks
t0=$(now); "$FORGE" -C "$work/big" --cache-dir "$work/big-cache" checkout big.bst "$work/staged" --hardlinks; t1=$(now)
stage=$(secs "$t0" "$t1")
t0=$(now); cp -al "$work/reference" "$work/copied"; t1=$(now)
cpal=$(secs "$t0" "$t1")
echo "| stage a cached 500 MB artifact (hardlinks) | forge $stage s | cp -al $cpal s | $(awk -v f="$stage" -v c="$cpal" 'BEGIN { printf "%.1f×", f / c }') of cp -al |"
