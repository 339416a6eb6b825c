#!/bin/sh
# `forge track` of a deb element of 46 packages (the demo's base has 46)
# from a signed archive on loopback whose Packages index is the size of
# Debian bookworm's main/amd64 (about 63,000 paragraphs, xz-compressed):
# first with an empty source cache (the packages are downloaded), then
# again (nothing changed upstream). Before forge read the index once per
# suite per run, each package downloaded and verified the index again.
# There is no peer for this in bst; the target is absolute (under 3 s for
# the demo's packages).
# Usage: bench/debian-track.sh    (needs python3, gpg, dpkg-deb, xz)
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

# 46 small real packages, and an index padded with 63,000 others.
mkdir -p "$work/www/debian/pool/main" "$work/www/debian/dists/bench/main/binary-amd64"
i=0
while [ "$i" -lt 46 ]; do
  pkg="$work/pkg$i"
  mkdir -p "$pkg/DEBIAN" "$pkg/usr/share/bench$i"
  head -c 65536 /dev/urandom > "$pkg/usr/share/bench$i/data"
  printf 'Package: bench%s\nVersion: 1.0-%s\nArchitecture: amd64\nMaintainer: bench <bench@example.com>\nDescription: benchmark package %s\n' "$i" "$i" "$i" > "$pkg/DEBIAN/control"
  dpkg-deb --build -Zgzip "$pkg" "$work/www/debian/pool/main/bench${i}_1.0-${i}_amd64.deb" > /dev/null
  i=$((i + 1))
done
python3 - "$work/www/debian" <<'PY'
import hashlib, os, subprocess, sys
root = sys.argv[1]
out = []
for f in sorted(os.listdir(f"{root}/pool/main")):
    data = open(f"{root}/pool/main/{f}", "rb").read()
    name, version = f.split("_")[0], f.split("_")[1]
    out.append(f"Package: {name}\nVersion: {version}\nArchitecture: amd64\nFilename: pool/main/{f}\n"
               f"Size: {len(data)}\nSHA256: {hashlib.sha256(data).hexdigest()}\nDescription: bench\n")
for n in range(63000):
    out.append(f"Package: filler{n}\nVersion: 1.{n}-1\nArchitecture: amd64\nMaintainer: Nobody <nobody@example.com>\n"
               f"Installed-Size: {n % 977}\nDepends: libc6 (>= 2.36), filler{(n * 7) % 63000}\n"
               f"Filename: pool/main/f/filler{n}/filler{n}_1.{n}-1_amd64.deb\nSize: {1000 + n}\n"
               f"SHA256: {hashlib.sha256(str(n).encode()).hexdigest()}\nDescription: a package that is not there\n")
index = f"{root}/dists/bench/main/binary-amd64/Packages"
open(index, "w").write("\n".join(out) + "\n")
subprocess.run(["xz", "-6", index], check=True)
data = open(index + ".xz", "rb").read()
open(f"{root}/dists/bench/Release", "w").write(
    "Origin: bench\nSuite: bench\nArchitectures: amd64\nComponents: main\nSHA256:\n"
    f" {hashlib.sha256(data).hexdigest()} {len(data)} main/binary-amd64/Packages.xz\n")
PY
gnupg="$work/gnupg"
mkdir -m 700 "$gnupg"
gpg --homedir "$gnupg" --batch --passphrase '' --quick-gen-key 'bench <bench@example.com>' ed25519 sign never 2> /dev/null
gpg --homedir "$gnupg" --batch --yes --clearsign --output "$work/www/debian/dists/bench/InRelease" "$work/www/debian/dists/bench/Release" 2> /dev/null
mkdir -p "$work/project/elements" "$work/project/keys"
gpg --homedir "$gnupg" --batch --export > "$work/project/keys/bench.gpg"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
(cd "$work/www" && exec python3 -m http.server "$port" --bind 127.0.0.1 > /dev/null 2>&1) &
server_pid=$!
sleep 1
printf 'name: debbench\nmin-version: 2.0\nelement-path: elements\naliases:\n  debian: http://127.0.0.1:%s/debian/\n' "$port" > "$work/project/project.conf"
{
  printf 'kind: deb\nsources:\n'
  i=0
  while [ "$i" -lt 46 ]; do
    printf -- '- kind: deb\n  url: '"'"'debian:'"'"'\n  suite: bench\n  keyring: keys/bench.gpg\n  package: bench%s\n' "$i"
    i=$((i + 1))
  done
} > "$work/project/elements/base.bst"

track() {
  "$FORGE" -C "$work/project" --cache-dir "$work/cache" track base.bst > "$work/out" 2>&1 || {
    echo "debian-track.sh: forge track failed:" >&2; tail -n 5 "$work/out" >&2; exit 1
  }
}
t0=$(now); track; t1=$(now)
cold=$(secs "$t0" "$t1")
grep -q 'sha256:' "$work/project/elements/base.bst" || { echo "debian-track.sh: nothing was pinned" >&2; exit 1; }
t0=$(now); track; t1=$(now)
again=$(secs "$t0" "$t1")
echo "| track 46 packages, index of 63,046 | $cold s (empty cache) | $again s (again) |"
