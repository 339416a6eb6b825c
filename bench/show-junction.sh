#!/bin/sh
# forge show vs bst show across a junction, in the same run: a parent
# project of 500 elements over a subproject of 1,000 (bench/gen-elements.sh)
# behind a `local` junction, each parent element depending on two of the
# subproject's, and a stack over all of them.
#
# Usage: bench/show-junction.sh [BST]   (BST: bst 2.8.1; skipped if absent)
# Writes a table to stdout; medians of 5 forge runs and 3 bst runs, after
# one warm-up run each.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
BST=${1:-${BST:-bst}}
FORGE="$root/target/release/forge"
(cd "$root" && cargo build --release -q)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

parent="$work/parent"
sh "$here/gen-elements.sh" "$parent/sub" 1000 fan
mkdir -p "$parent/elements"
printf 'name: parent\nmin-version: 2.0\nelement-path: elements\n' > "$parent/project.conf"
printf 'kind: junction\nsources:\n- kind: local\n  path: sub\n' > "$parent/elements/sub.bst"
awk -v dir="$parent/elements" 'BEGIN {
  top = dir "/top.bst"
  print "kind: stack\ndepends:" > top
  for (i = 0; i < 500; i++) {
    file = sprintf("%s/p%04d.bst", dir, i)
    printf "kind: stack\ndepends:\n- sub.bst:e%05d.bst\n- sub.bst:e%05d.bst\n", 2 * i, 2 * i + 1 > file
    close(file)
    printf "- p%04d.bst\n", i > top
  }
}'

median() {
  n=$1; shift
  : > "$work/times"
  i=0
  while [ "$i" -lt "$n" ]; do
    start=$(date +%s%N)
    if ! "$@" show --deps all top.bst > "$work/out" 2> "$work/err"; then
      echo "failed: $(head -n 1 "$work/err")" >&2
      echo failed
      return
    fi
    end=$(date +%s%N)
    echo $(((end - start) / 1000)) >> "$work/times"
    i=$((i + 1))
  done
  sort -n "$work/times" | awk '{ t[NR] = $1 } END { printf "%.3f", t[int((NR + 1) / 2)] / 1e6 }'
}

cd "$parent"
export XDG_CACHE_HOME="$work/cache"
median 1 "$FORGE" > /dev/null
forge=$(median 5 "$FORGE")
shown=$(wc -l < "$work/out")
if command -v "$BST" > /dev/null 2>&1; then
  median 1 "$BST" > /dev/null
  bst=$(median 3 "$BST")
else
  bst="not run"
fi
ratio=$(awk -v b="$bst" -v f="$forge" 'BEGIN { if (b ~ /^[0-9.]+$/ && f ~ /^[0-9.]+$/ && f > 0) printf "%.0f×", b / f; else print "—" }')
printf '| project | elements shown | forge | bst | bst / forge |\n|---|---|---|---|---|\n'
printf '| 500 over a junction of 1,000 | %s | %s s | %s | %s |\n' "$shown" "$forge" \
  "$(case "$bst" in [0-9]*) echo "$bst s" ;; *) echo "$bst" ;; esac)" "$ratio"
