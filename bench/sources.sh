#!/bin/sh
# Source benchmarks, forge against its peers in the same run:
#  1. `forge fetch` of 200 archives of 1 MiB from a loopback HTTP server,
#     against `curl --parallel` of the same URLs;
#  2. the key of a `local` source of 20,000 files (first run, then again
#     with the digest cache warm), against `find | xargs sha256sum`.
# Usage: bench/sources.sh        (needs curl and python3)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
FORGE="$root/target/release/forge"
(cd "$root" && cargo build --release -q)
work=$(mktemp -d)
server_pid=
cleanup() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

now() { date +%s%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b - a) / 1e9 }'; }

# 1. downloads
mkdir -p "$work/www" "$work/fetch/elements"
i=0
while [ "$i" -lt 200 ]; do
  head -c 1048576 /dev/urandom > "$work/www/a$i.bin"
  i=$((i + 1))
done
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
(cd "$work/www" && exec python3 -m http.server "$port" --bind 127.0.0.1 >/dev/null 2>&1) &
server_pid=$!
sleep 1
printf 'name: fetchbench\nmin-version: 2.0\nelement-path: elements\naliases:\n  www: http://127.0.0.1:%s/\n' "$port" > "$work/fetch/project.conf"
printf 'kind: stack\ndepends:\n' > "$work/fetch/elements/all.bst"
: > "$work/urls"
i=0
while [ "$i" -lt 200 ]; do
  sha=$(sha256sum "$work/www/a$i.bin" | cut -d' ' -f1)
  printf 'kind: import\nsources:\n- kind: remote\n  url: www:a%s.bin\n  ref: %s\n' "$i" "$sha" > "$work/fetch/elements/a$i.bst"
  printf -- '- a%s.bst\n' "$i" >> "$work/fetch/elements/all.bst"
  printf 'url = "http://127.0.0.1:%s/a%s.bin"\noutput = "%s/curl/a%s.bin"\n' "$port" "$i" "$work" "$i" >> "$work/urls"
  i=$((i + 1))
done
mkdir -p "$work/curl"
t0=$(now); curl --silent --parallel --parallel-max 8 --config "$work/urls"; t1=$(now)
curl_s=$(secs "$t0" "$t1")
t0=$(now); "$FORGE" -C "$work/fetch" --cache-dir "$work/cache" --fetchers 8 fetch all.bst 2>/dev/null; t1=$(now)
forge_s=$(secs "$t0" "$t1")
echo "| fetch 200 × 1 MiB, loopback | forge fetch $forge_s s | curl --parallel $curl_s s | $(awk -v f="$forge_s" -v c="$curl_s" 'BEGIN { printf "%.2f×", f / c }') |"

# 2. hashing a large local tree
mkdir -p "$work/local/elements" "$work/local/tree"
printf 'name: hashbench\nmin-version: 2.0\nelement-path: elements\n' > "$work/local/project.conf"
printf 'kind: import\nsources:\n- kind: local\n  path: tree\n' > "$work/local/elements/tree.bst"
python3 - "$work/local/tree" <<'PY'
import os, sys
root = sys.argv[1]
for d in range(200):
    os.makedirs(f"{root}/d{d:03}", exist_ok=True)
    for f in range(100):
        with open(f"{root}/d{d:03}/f{f:03}.txt", "wb") as out:
            out.write(os.urandom(2048))
PY
sleep 2  # files younger than 2 s are not put in the digest cache
t0=$(now); (cd "$work/local/tree" && find . -type f -print0 | xargs -0 -P 2 -n 500 sha256sum > /dev/null); t1=$(now)
sum_s=$(secs "$t0" "$t1")
t0=$(now); "$FORGE" -C "$work/local" --cache-dir "$work/cache" show --format '%{key}' tree.bst > /dev/null; t1=$(now)
first_s=$(secs "$t0" "$t1")
t0=$(now); "$FORGE" -C "$work/local" --cache-dir "$work/cache" show --format '%{key}' tree.bst > /dev/null; t1=$(now)
second_s=$(secs "$t0" "$t1")
echo "| key of a local source of 20,000 files | forge show $first_s s, again $second_s s | find \| xargs -P2 sha256sum $sum_s s | $(awk -v f="$first_s" -v c="$sum_s" 'BEGIN { printf "%.2f×", f / c }') |"
