#!/bin/sh
# Records how BuildStream answers each case of tests/fixtures/format-details:
# whether the project loads, where it fails, and what `bst show` prints
# when it loads. crates/forge-cli/tests/format_details.rs checks forge
# against these answers on every run, without BuildStream installed.
#
# Opt-in: needs bst 2.8.1 (see compare-with-bst.sh).
# Usage: tests/compat/record-format-details.sh [BST]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
BST=${1:-${BST:-bst}}
command -v "$BST" >/dev/null 2>&1 || { echo "record-format-details: '$BST' not found" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export XDG_CACHE_HOME="$work/cache" XDG_CONFIG_HOME="$work/config"
format='%{name}%{vars}%{env}%{config}%{public}'
for case in "$root"/tests/fixtures/format-details/*/; do
  opts=""
  [ -f "$case/options" ] && opts=$(cat "$case/options")
  set +e
  (cd "$case" && eval "\"$BST\" --no-colors --max-jobs 2 $opts show --deps none --format '$format' e.bst") \
    > "$work/out" 2> "$work/err"
  status=$?
  set -e
  {
    echo "exit: $status"
    if [ "$status" -ne 0 ]; then
      # The error, without bst's progress lines.
      grep -v '^\[' "$work/err" | grep -v '^$' | sed 's/^Error loading project: //' | sed 's/^/error: /'
    fi
    echo "---"
    cat "$work/out"
  } > "$case/bst-answer"
  echo "$(basename "$case"): exit $status"
done
