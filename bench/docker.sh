#!/bin/sh
# Container images (`docker` sources), forge against skopeo and umoci in
# the same run, on a registry on loopback (bench/registry.py: an image of
# three gzipped layers, 5,000 small files, 16 large ones, whiteouts):
#  1. pull: `forge fetch` of the pinned image into an empty source cache
#     (every layer checked against its digest) against `skopeo copy` of
#     the same digest into an OCI layout (which checks them too);
#  2. unpack: `forge source checkout` (layers applied in order, whiteouts
#     honoured) against `umoci unpack --rootless` of that layout.
# Medians of RUNS (default 5) interleaved runs, on tmpfs.
# Usage: bench/docker.sh        (needs python3, skopeo and umoci)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
FORGE="$root/target/release/forge"
(cd "$root" && cargo build --release -q)
work=$(mktemp -d /dev/shm/forge-docker-bench.XXXXXX)
server_pid=
cleanup() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; [ -n "${KEEP:-}" ] || rm -rf "$work"; }
trap cleanup EXIT
now() { date +%s%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b - a) / 1e9 }'; }
median_of() { sort -n | awk '{ t[NR] = $1 } END { print t[int((NR + 1) / 2)] }'; }

digest=$(python3 "$here/registry.py" make "$work/registry")
size=$(du -sb "$work/registry/blobs" | cut -f1)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
python3 "$here/registry.py" serve "$work/registry" "$port" &
server_pid=$!
while ! python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), 1)" 2>/dev/null; do sleep 0.1; done

mkdir -p "$work/project/elements"
printf 'name: dockerbench\nmin-version: 2.0\nelement-path: elements\nplugins:\n- origin: pip\n  package-name: buildstream-plugins\n  sources: [docker]\n' > "$work/project/project.conf"
printf 'kind: import\nsources:\n- kind: docker\n  registry-url: http://127.0.0.1:%s\n  image: team/app\n  architecture: amd64\n  ref: %s\n' "$port" "$digest" > "$work/project/elements/image.bst"

RUNS=${RUNS:-5}
for f in forge-pull skopeo-pull forge-unpack umoci-unpack; do : > "$work/$f"; done
i=0
while [ "$i" -lt "$RUNS" ]; do
  rm -rf "$work/cache" "$work/staged" "$work/layout" "$work/bundle"
  t0=$(now); "$FORGE" -C "$work/project" --cache-dir "$work/cache" fetch image.bst 2>/dev/null; t1=$(now)
  secs "$t0" "$t1" >> "$work/forge-pull"; echo >> "$work/forge-pull"
  t0=$(now); skopeo copy -q --src-tls-verify=false "docker://127.0.0.1:$port/team/app@sha256:$digest" "oci:$work/layout:latest" >/dev/null; t1=$(now)
  secs "$t0" "$t1" >> "$work/skopeo-pull"; echo >> "$work/skopeo-pull"
  t0=$(now); "$FORGE" -C "$work/project" --cache-dir "$work/cache" source checkout image.bst "$work/staged" 2>/dev/null; t1=$(now)
  secs "$t0" "$t1" >> "$work/forge-unpack"; echo >> "$work/forge-unpack"
  t0=$(now); umoci unpack --rootless --image "$work/layout:latest" "$work/bundle" >/dev/null 2>&1; t1=$(now)
  secs "$t0" "$t1" >> "$work/umoci-unpack"; echo >> "$work/umoci-unpack"
  i=$((i + 1))
done
# The same tree: every file of one is in the other, with the same bytes.
(cd "$work/staged" && find . -type f | sort | xargs sha256sum) > "$work/forge-sums"
(cd "$work/bundle/rootfs" && find . -type f | sort | xargs sha256sum) > "$work/umoci-sums"
cmp -s "$work/forge-sums" "$work/umoci-sums" || { echo "docker.sh: forge and umoci unpacked different trees" >&2; exit 1; }

fp=$(median_of < "$work/forge-pull"); sp=$(median_of < "$work/skopeo-pull")
fu=$(median_of < "$work/forge-unpack"); uu=$(median_of < "$work/umoci-unpack")
files=$(wc -l < "$work/forge-sums")
ratio() { awk -v p="$1" -v f="$2" 'BEGIN { printf "%.2f", p / f }'; }
echo "| pull the image ($((size / 1048576)) MiB in 3 layers) | forge fetch $fp s | skopeo copy $sp s | skopeo / forge $(ratio "$sp" "$fp") |"
echo "| unpack it ($files files) | forge source checkout $fu s | umoci unpack $uu s | umoci / forge $(ratio "$uu" "$fu") |"
