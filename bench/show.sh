#!/bin/sh
# forge show vs bst show on generated projects (1,000 and 10,000 trivial
# import elements, fan-out and one deep chain, from
# bench/gen-elements.sh), in the same run.
#
# Usage: bench/show.sh [BST]   (BST: path to bst 2.8.1; skipped if absent)
# Writes a table to stdout; medians of 5 runs (3 for bst).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
gen="$here/gen-elements.sh"
BST=${1:-${BST:-bst}}
FORGE="$root/target/release/forge"
(cd "$root" && cargo build --release -q)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# median SECONDS of N runs of a command (in the current directory)
median() {
  n=$1; shift
  i=0
  : > "$work/times"
  while [ "$i" -lt "$n" ]; do
    start=$(date +%s%N)
    if ! "$@" > /dev/null 2>&1; then echo "crashed"; return; fi
    end=$(date +%s%N)
    echo $(( (end - start) / 1000 )) >> "$work/times"
    i=$((i + 1))
  done
  sort -n "$work/times" | awk '{a[NR]=$1} END {printf "%.3f", a[int((NR+1)/2)]/1000000}'
}

printf '| project | forge show | bst show | bst / forge |\n|---|---|---|---|\n'
for spec in "1000 fan" "1000 chain" "10000 fan" "10000 chain"; do
  set -- $spec
  dir="$work/p-$1-$2"
  sh "$gen" "$dir" "$1" "$2" > /dev/null
  cd "$dir"
  f=$(median 5 "$FORGE" show top.bst)
  if command -v "$BST" > /dev/null 2>&1; then
    b=$(median 3 "$BST" show top.bst)
  else
    b="not run"
  fi
  ratio=$(awk -v b="$b" -v f="$f" 'BEGIN { if (b ~ /^[0-9.]+$/ && f > 0) printf "%.0f×", b / f; else print "—" }')
  printf '| %s elements, %s | %s s | %s | %s |\n' "$1" "$2" "$f" "$(case "$b" in [0-9]*) echo "$b s";; *) echo "$b";; esac)" "$ratio"
  cd "$root"
done
