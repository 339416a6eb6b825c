#!/bin/sh
# Writes a project of N `import` elements, each with one small `local`
# file, and `top.bst`, a stack over all of them.
#
# Usage: bench/gen-elements.sh DIR N [fan|chain]
#   fan:   the elements are independent
#   chain: each element also depends on the one before it
set -eu
[ $# -ge 2 ] || { echo "usage: $0 DIR N [fan|chain]" >&2; exit 2; }
dir=$1 count=$2 shape=${3:-fan}
rm -rf "$dir"
mkdir -p "$dir/elements" "$dir/files"
printf 'name: generated\nmin-version: 2.0\nelement-path: elements\n' > "$dir/project.conf"
awk -v dir="$dir" -v n="$count" -v shape="$shape" 'BEGIN {
  top = dir "/elements/top.bst"
  print "kind: stack\ndepends:" > top
  for (i = 0; i < n; i++) {
    name = sprintf("e%05d", i)
    print "content of " name > (dir "/files/" name ".txt")
    close(dir "/files/" name ".txt")
    file = dir "/elements/" name ".bst"
    printf "kind: import\nsources:\n- kind: local\n  path: files/%s.txt\n", name > file
    if (shape == "chain" && i > 0) printf "depends:\n- e%05d.bst\n", i - 1 > file
    close(file)
    printf "- %s.bst\n", name > top
  }
}'
