#!/bin/sh
# `forge lock` against `uv pip compile`, in the same run, resolving
# httpie and black (two lines of requirements.in) for CPython 3.11 on
# manylinux x86_64 from the same loopback index (PEP 503 HTML, served by
# python3 -m http.server: no ranges, no PEP 658 metadata files, so both
# read METADATA from the wheels). Each run starts from an empty cache:
# forge's source cache, uv's --cache-dir. The two pinned sets must agree.
# The index holds the closure pip downloads for the target (once, into
# bench/out/).
# Usage: bench/python-lock.sh [UV]   (UV: path to uv; required)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
UV=${1:-${UV:-uv}}
command -v "$UV" > /dev/null 2>&1 || { echo "python-lock.sh: uv not found (give its path)" >&2; exit 2; }
FORGE="$root/target/release/forge"
(cd "$root" && cargo build --release -q)
wheels="$here/out/lock-wheels"
if [ ! -f "$wheels/.complete" ]; then
  mkdir -p "$wheels"
  python3 -m pip download -q --only-binary=:all: --platform manylinux2014_x86_64 \
    --python-version 3.11 --implementation cp httpie black -d "$wheels"
  touch "$wheels/.complete"
fi
work=$(mktemp -d /dev/shm/forge-lock-bench.XXXXXX 2>/dev/null || mktemp -d)
server_pid=
cleanup() { [ -n "$server_pid" ] && kill $server_pid 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
now() { date +%s%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b - a) / 1e9 }'; }
median_of() { sort -n | awk '{ t[NR] = $1 } END { print t[int((NR + 1) / 2)] }'; }

python3 "$here/simple-index.py" "$wheels" "$work/index"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
(cd "$work/index" && exec python3 -m http.server "$port" --bind 127.0.0.1 >/dev/null 2>&1) &
server_pid=$!
while ! python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), 1)" 2>/dev/null; do sleep 0.1; done

mkdir -p "$work/project/elements"
cat > "$work/project/project.conf" <<CONF
name: lockbench
min-version: 2.0
element-path: elements
aliases:
  pypi: http://127.0.0.1:$port/
sources:
  pypi:
    config:
      target:
        python: '3.11'
        glibc: '2.36'
        arch: x86_64
CONF
printf 'httpie\nblack\n' > "$work/project/requirements.in"

RUNS=${RUNS:-3}
: > "$work/forge-times"; : > "$work/uv-times"
i=0
while [ "$i" -lt "$RUNS" ]; do
  rm -rf "$work/cache" "$work/project/elements/requirements" "$work/project/elements/requirements.bst"
  t0=$(now); "$FORGE" -C "$work/project" --cache-dir "$work/cache" lock "$work/project/requirements.in" 2>"$work/forge-log" || { cat "$work/forge-log" >&2; exit 1; }; t1=$(now)
  secs "$t0" "$t1" >> "$work/forge-times"; echo >> "$work/forge-times"
  rm -rf "$work/uv-cache"
  t0=$(now)
  "$UV" pip compile -q --no-header --no-annotate --cache-dir "$work/uv-cache" --python-version 3.11 \
    --python-platform x86_64-manylinux_2_36 --index-url "http://127.0.0.1:$port/simple/" \
    "$work/project/requirements.in" > "$work/uv-pins"
  t1=$(now)
  secs "$t0" "$t1" >> "$work/uv-times"; echo >> "$work/uv-times"
  i=$((i + 1))
done
forge_s=$(median_of < "$work/forge-times")
uv_s=$(median_of < "$work/uv-times")
for f in "$work"/project/elements/requirements/*.bst; do
  name=$(basename "$f" .bst)
  version=$(sed -n 's/^    version: //p' "$f")
  echo "$name==$version"
done | sort > "$work/forge-pins"
grep -v '^#' "$work/uv-pins" | sed 's/ *$//' | grep -v '^$' | sort > "$work/uv-pins-sorted"
if ! diff "$work/forge-pins" "$work/uv-pins-sorted" > "$work/pins-diff"; then
  echo "python-lock.sh: forge and uv pinned different sets:" >&2; cat "$work/pins-diff" >&2; exit 1
fi
count=$(wc -l < "$work/forge-pins")
echo "| lock httpie + black ($count packages, same set as uv) | forge $forge_s s | uv pip compile $uv_s s | uv / forge $(awk -v u="$uv_s" -v f="$forge_s" 'BEGIN { printf "%.2f", u / f }') |"
