#!/usr/bin/env bash
# The README's first command: build the demo application (a Python CLI on a
# Debian bookworm base from pinned .debs and wheels) and its OCI image, then
# run it in the sandbox. Installs bubblewrap first where it is missing.
set -euo pipefail
cd "$(dirname "$0")"
if ! command -v bwrap >/dev/null; then
  echo "demo.sh: installing bubblewrap (forge's sandbox)" >&2
  as_root=""
  [ "$(id -u)" = 0 ] || as_root="sudo"
  $as_root apt-get update -qq && DEBIAN_FRONTEND=noninteractive $as_root apt-get install -y -qq bubblewrap
fi
# The first run compiles forge (several minutes on a small machine): cargo
# shows its progress; later runs start at once.
forge="${CARGO_TARGET_DIR:-target}/release/forge"
if [ ! -x "$forge" ]; then
  echo "demo.sh: compiling forge (release build; the first time only)" >&2
fi
cargo build --release --bin forge
"$forge" build app.bst image.bst
# What the application is made of: every element and pin, as SPDX 2.3.
sbom="${CARGO_TARGET_DIR:-target}/app.spdx.json"
"$forge" sbom app.bst --output "$sbom"
echo "demo.sh: its bill of materials (SPDX 2.3) is in $sbom" >&2
"$forge" shell app.bst -- hello-forge --details "$@"
