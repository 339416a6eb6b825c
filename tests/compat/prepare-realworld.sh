#!/bin/sh
# Makes a copy of freedesktop-sdk (or a project that builds on it the same
# way) that forge and bst both load offline, as its Makefile prepares it
# before running bst:
#
# - the files the Makefile generates (ostree-config.yml, secure-version.yml
#   and the boot keys under files/boot-keys) are written as placeholders:
#   `show` only hashes them;
# - the two plugin junctions (plugins/buildstream-plugins*.bst), which bst
#   would fetch from the network, become `origin: pip` declarations of the
#   installed packages. forge reads both forms the same way.
#
# Writes DEST/project (the copy) and DEST/targets.txt: every element forge
# shows offline. The elements left out are listed with why (freedesktop-sdk
# 's abi/ and tests/check-abi* need a junction to a remote repository).
#
# Usage: tests/compat/prepare-realworld.sh SNAPSHOT DEST [FORGE]
set -eu
[ $# -ge 2 ] || { echo "usage: $0 SNAPSHOT DEST [FORGE]" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
src=$(cd "$1" && pwd)
dest=$2
FORGE=${3:-${FORGE:-$root/target/release/forge}}
[ -f "$src/project.conf" ] || { echo "prepare-realworld: no project.conf in $src" >&2; exit 2; }
[ -x "$FORGE" ] || { echo "prepare-realworld: build forge first (cargo build --release)" >&2; exit 2; }

rm -rf "$dest"
mkdir -p "$dest"
cp -a "$src" "$dest/project"
cd "$dest/project"

[ -f ostree-config.yml ] || printf '%s\n' 'ostree-remote-url: "http://127.0.0.1:8000/"' \
  'ostree-branch: "freedesktop-sdk/x86_64/minimal"' > ostree-config.yml
[ -f secure-version.yml ] || echo 'sdk-version: "0.0"' > secure-version.yml
if [ -d files/boot-keys ]; then
  mkdir -p files/boot-keys/modules files/boot-keys/extra-kek files/boot-keys/extra-db
  for key in PK KEK DB VENDOR; do
    touch "files/boot-keys/$key.key" "files/boot-keys/$key.crt"
  done
  touch files/boot-keys/linux-module-cert.key files/boot-keys/modules/linux-module-cert.crt
fi

python3 - project.conf <<'EOF'
import re, sys
path = sys.argv[1]
text = open(path, encoding="utf-8").read()
pattern = re.compile(r"origin: junction\n(\s+)junction: plugins/(buildstream-plugins(?:-community)?)\.bst")
new, count = pattern.subn(lambda m: f"origin: pip\n{m.group(1)}package-name: {m.group(2)}", text)
open(path, "w", encoding="utf-8").write(new)
print(f"prepare-realworld: {count} plugin junction declaration(s) now name pip packages")
EOF

element_path=$(sed -n 's/^element-path: *//p' project.conf | head -n 1)
element_path=${element_path:-.}
: > "$dest/targets.txt"
left_out=0
for element in $(cd "$element_path" && find . -name '*.bst' | sed 's|^\./||' | LC_ALL=C sort); do
  if "$FORGE" show --deps none --format '%{name}' "$element" > /dev/null 2> "$dest/why"; then
    echo "$element" >> "$dest/targets.txt"
  else
    left_out=$((left_out + 1))
    echo "left out $element: $(head -n 1 "$dest/why")"
  fi
done
rm -f "$dest/why"
echo "prepare-realworld: $(wc -l < "$dest/targets.txt") elements in $dest/targets.txt, $left_out left out"
