#!/bin/sh
# Runs the demo's application from its OCI image under podman:
# `hello-forge --details` must print the greeting and the version table.
#
# Opt-in, not part of `cargo test`: the demo fetches its pinned Debian
# packages and wheels from the network. (The hermetic test
# `podman_runs_the_oci_image` in crates/forge-cli/tests/build.rs runs an
# image built from local sources the same way.) Needs podman, runc and
# skopeo (`apt-get install podman runc skopeo`); on machines like these
# podman needs runc, cgroupfs and no default ulimits, given here through a
# private containers.conf and a private vfs store, so nothing is left.
#
# Usage: tests/compat/podman-demo.sh [FORGE]
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
FORGE=${1:-$root/target/release/forge}
[ -x "$FORGE" ] || (cd "$root" && cargo build --release --bin forge)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$FORGE" -C "$root" build image.bst
"$FORGE" -C "$root" checkout image.bst "$work/oci" --deps none
printf '[containers]\ndefault_ulimits = []\n[engine]\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n' > "$work/containers.conf"
mkdir -p "$work/graph" "$work/run"
image="localhost/forge-demo-$$:latest"
skopeo copy "oci:$work/oci:latest" "containers-storage:[vfs@$work/graph+$work/run]$image" > /dev/null
CONTAINERS_CONF="$work/containers.conf" podman --root "$work/graph" --runroot "$work/run" \
  --storage-driver vfs --runtime runc run --rm --network=none "$image" --details > "$work/out"
cat "$work/out"
grep -q 'Hello, world' "$work/out" || { echo "podman-demo.sh: no greeting from the image" >&2; exit 1; }
echo "podman-demo.sh: the demo's image runs under podman"
