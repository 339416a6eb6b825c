#!/bin/sh
# forge sbom vs buildstream-sbom 1.2 (the SPDX generator BuildStream users
# run, on bst 2.8.1) on a generated project: N `import` elements, each
# with one pinned `tar` source, and a stack over them. Both read pins only
# (nothing is fetched); both write SPDX 2.3 with a package per element and
# per source.
#
# Usage: bench/sbom.sh [VENV] [N]   (VENV: a venv with buildstream==2.8.1
#   and buildstream-sbom==1.2; skipped if absent. N: default 1000)
# Writes a table row to stdout; medians of 5 runs (3 for the peer).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
VENV=${1:-${VENV:-}}
N=${2:-1000}
FORGE="$root/target/release/forge"
(cd "$root" && cargo build --release -q)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

project="$work/project"
mkdir -p "$project/elements"
printf 'name: generated\nmin-version: 2.0\nelement-path: elements\naliases:\n  upstream: https://downloads.example.org/\n' \
  > "$project/project.conf"
i=0
printf 'kind: stack\ndepends:\n' > "$project/elements/top.bst"
while [ "$i" -lt "$N" ]; do
  name=$(printf 'e%05d' "$i")
  sha=$(printf '%s' "$name" | sha256sum | cut -d' ' -f1)
  printf 'kind: import\nsources:\n- kind: tar\n  url: upstream:%s-1.%d.tar.gz\n  ref: %s\n' "$name" "$i" "$sha" \
    > "$project/elements/$name.bst"
  printf -- '- %s.bst\n' "$name" >> "$project/elements/top.bst"
  i=$((i + 1))
done

median() {
  n=$1; shift
  : > "$work/times"
  j=0
  while [ "$j" -lt "$n" ]; do
    start=$(date +%s%N)
    "$@" > /dev/null 2>&1 || { echo "failed"; return; }
    end=$(date +%s%N)
    echo $(( (end - start) / 1000 )) >> "$work/times"
    j=$((j + 1))
  done
  sort -n "$work/times" | awk '{a[NR]=$1} END {printf "%.3f", a[int((NR+1)/2)]/1000000}'
}

cd "$project"
forge_s=$(median 5 "$FORGE" --cache-dir "$work/cache" sbom top.bst --deps all --output "$work/forge.json")
forge_packages=$(python3 -c "import json,sys; print(len(json.load(open(sys.argv[1]))['packages']))" "$work/forge.json")
if [ -n "$VENV" ] && [ -x "$VENV/bin/buildstream-sbom" ]; then
  peer() {
    env PATH="$VENV/bin:$PATH" XDG_CACHE_HOME="$work/bst-cache" "$VENV/bin/buildstream-sbom" \
      --spdx-name generated --spdx-namespace https://example.org/generated --deps all \
      --output "$work/bst.json" top.bst
  }
  peer_s=$(median 3 peer)
  peer_packages=$(python3 -c "import json,sys; print(len(json.load(open(sys.argv[1]))['packages']))" "$work/bst.json")
else
  peer_s="not run"; peer_packages="—"
fi
echo "| $N elements, $N tar sources | forge sbom $forge_s s ($forge_packages packages) | buildstream-sbom $peer_s s ($peer_packages packages) | $(awk -v p="$peer_s" -v f="$forge_s" 'BEGIN { if (p ~ /^[0-9.]+$/) printf "%.0f×", p / f; else print "—" }') |"
