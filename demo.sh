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
cargo run --release -q -- build app.bst image.bst
cargo run --release -q -- shell app.bst -- hello-forge --details "$@"
