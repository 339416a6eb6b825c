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

. "$here/timing.sh"

cd "$parent"
export XDG_CACHE_HOME="$work/cache"
median 1 "$FORGE" show --deps all top.bst > /dev/null
forge=$(median 5 "$FORGE" show --deps all top.bst)
shown=$(wc -l < "$work/out")
if command -v "$BST" > /dev/null 2>&1; then
  median 1 "$BST" show --deps all top.bst > /dev/null
  bst=$(median 3 "$BST" show --deps all top.bst)
else
  bst="not run"
fi
ratio=$(ratio "$bst" "$forge")
printf '| project | elements shown | forge | bst | bst / forge |\n|---|---|---|---|---|\n'
printf '| 500 over a junction of 1,000 | %s | %s s | %s | %s |\n' "$shown" "$forge" \
  "$(case "$bst" in [0-9]*) echo "$bst s" ;; *) echo "$bst" ;; esac)" "$ratio"
