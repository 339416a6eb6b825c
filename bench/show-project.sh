#!/bin/sh
# forge show --deps all against bst show --deps all of every element of a
# project, in the same run, on the same directory and targets.
#
# Usage: bench/show-project.sh DIR [TARGETS] [BST]
#   DIR      a project both tools load offline. For freedesktop-sdk, make
#            one with tests/compat/prepare-realworld.sh SNAPSHOT DEST and
#            pass DEST/project and DEST/targets.txt.
#   TARGETS  a file of element names (default: every .bst under the
#            project's element-path)
#   BST      bst 2.8.1 (default: bst on PATH; bst is skipped if absent)
# Each tool runs once to warm its caches, then forge 5 times and bst 3
# times; medians are reported.
set -eu
[ $# -ge 1 ] || { echo "usage: $0 DIR [TARGETS] [BST]" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
dir=$(cd "$1" && pwd)
BST=${3:-${BST:-bst}}
FORGE="$root/target/release/forge"
(cd "$root" && cargo build --release -q)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if [ -n "${2:-}" ]; then
  cp "$2" "$work/targets"
else
  element_path=$(sed -n 's/^element-path: *//p' "$dir/project.conf" | head -n 1)
  (cd "$dir/${element_path:-.}" && find . -name '*.bst' | sed 's|^\./||' | LC_ALL=C sort) > "$work/targets"
fi
count=$(wc -l < "$work/targets")
# One argument per target: left unquoted on purpose below.
targets=$(cat "$work/targets")

. "$here/timing.sh"

cd "$dir"
# shellcheck disable=SC2086
median 1 "$FORGE" show --deps all $targets > /dev/null
forge=$(median 5 "$FORGE" show --deps all $targets)
shown=$(wc -l < "$work/out")
if command -v "$BST" > /dev/null 2>&1; then
  median 1 "$BST" show --deps all $targets > /dev/null
  bst=$(median 3 "$BST" show --deps all $targets)
else
  bst="not run"
fi
ratio=$(ratio "$bst" "$forge")
printf '| project | targets | elements shown | forge | bst | bst / forge |\n|---|---|---|---|---|---|\n'
printf '| %s | %s | %s | %s s | %s | %s |\n' "$(sed -n 's/^name: *//p' "$dir/project.conf" | head -n 1)" "$count" "$shown" "$forge" \
  "$(case "$bst" in [0-9]*) echo "$bst s" ;; *) echo "$bst" ;; esac)" "$ratio"
