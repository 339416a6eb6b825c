#!/bin/sh
# Compares forge and bst on a real project (freedesktop-sdk): for every
# element both show offline, the resolved variables, environment, config
# and public data, and the whole `--deps all` listing with each element's
# dependencies in order, must be byte for byte the same.
#
# Opt-in: needs the snapshot (../shared/realworld/freedesktop-sdk beside
# the repository, or any path) and BuildStream 2.8.1 with the plugin
# packages, set up as the header of tests/compat/compare-with-bst.sh says.
#
# With --through-junction, the project compared is a downstream one that
# junctions the snapshot (a `local` junction to a copy inside it, target
# arch passed down), includes its include/runtime.yml from project.conf,
# and builds autotools and meson elements on its stacks, with a link to one
# of its elements: every element of the snapshot it reaches is compared too.
#
# Usage: tests/compat/compare-realworld.sh [--through-junction] [SNAPSHOT] [BST] [FORGE]
# (KEEP=1 keeps the work directory.)
set -eu
through_junction=false
if [ "${1:-}" = "--through-junction" ]; then through_junction=true; shift; fi
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
SNAPSHOT=${1:-$root/../shared/realworld/freedesktop-sdk}
BST=${2:-${BST:-bst}}
FORGE=${3:-${FORGE:-$root/target/release/forge}}
command -v "$BST" > /dev/null 2>&1 || { echo "compare-realworld: '$BST' not found; see tests/compat/compare-with-bst.sh" >&2; exit 2; }
[ -d "$SNAPSHOT" ] || { echo "compare-realworld: no project at $SNAPSHOT" >&2; exit 2; }

work=$(mktemp -d)
[ -n "${KEEP:-}" ] || trap 'rm -rf "$work"' EXIT
# bst and forge each get their own caches, so nothing of the user's is used.
export XDG_CACHE_HOME="$work/cache" XDG_CONFIG_HOME="$work/config"
sh "$here/prepare-realworld.sh" "$SNAPSHOT" "$work/p" "$FORGE" | tail -n 1
cd "$work/p/project"
targets=$(cat "$work/p/targets.txt")
if $through_junction; then
  parent="$work/downstream"
  mkdir -p "$parent/elements" "$parent/files/hello"
  mv "$work/p/project" "$parent/freedesktop-sdk"
  sdk=$(sed -n 's/^name: *//p' "$parent/freedesktop-sdk/project.conf" | head -n 1)
  cat > "$parent/project.conf" <<CONF
name: downstream
min-version: 2.0
element-path: elements
(@):
- $sdk.bst:include/runtime.yml
options:
  arch:
    type: arch
    description: Architecture
    variable: arch
    values: [aarch64, x86_64, riscv64]
plugins:
- origin: pip
  package-name: buildstream-plugins
  elements: [autotools, meson]
CONF
  printf 'kind: junction\nsources:\n- kind: local\n  path: freedesktop-sdk\nconfig:\n  options:\n    target_arch: "%%{arch}"\n' \
    > "$parent/elements/$sdk.bst"
  echo 'int main(void) { return 0; }' > "$parent/files/hello/hello.c"
  printf 'kind: autotools\nbuild-depends:\n- %s.bst:public-stacks/buildsystem-autotools.bst\ndepends:\n- %s.bst:public-stacks/runtime-minimal.bst\nsources:\n- kind: local\n  path: files/hello\n' \
    "$sdk" "$sdk" > "$parent/elements/hello.bst"
  printf 'kind: link\nconfig:\n  target: %s.bst:components/glib.bst\n' "$sdk" > "$parent/elements/glib.bst"
  printf 'kind: meson\nbuild-depends:\n- %s.bst:public-stacks/buildsystem-meson.bst\ndepends:\n- glib.bst\n- hello.bst\nvariables:\n  meson-local: -Dfrom=%%{prefix}\nsources:\n- kind: local\n  path: files/hello\n' \
    "$sdk" > "$parent/elements/tool.bst"
  printf 'kind: stack\ndepends:\n- tool.bst\n- %s.bst:components/python3.bst\n' "$sdk" > "$parent/elements/app.bst"
  cd "$parent"
  targets="app.bst hello.bst glib.bst"
  echo "compare-realworld: a downstream project over a junction to $sdk, targets: $targets"
fi

status=0
for field in vars env config public; do
  # shellcheck disable=SC2086
  "$FORGE" show --deps all --format "### %{name}%{$field}" $targets > "$work/forge-$field.txt" 2> "$work/forge.log"
  # shellcheck disable=SC2086
  "$BST" --no-colors show --deps all --format "### %{name}%{$field}" $targets > "$work/bst-$field.txt" 2> "$work/bst.log"
  python3 - "$field" "$work/bst-$field.txt" "$work/forge-$field.txt" <<'EOF' || status=1
import difflib, re, sys
field, bst_file, forge_file = sys.argv[1:]
name = re.compile(r"^((?:[^\s:]+?\.bst)(?::[^\s:]+?\.bst)*)")
def blocks(path):
    out, current, lines = {}, None, []
    for line in open(path, encoding="utf-8", errors="replace"):
        if line.startswith("### "):
            if current is not None:
                out[current] = "".join(lines)
            rest = line[4:]
            current = name.match(rest).group(1)
            lines = [rest[len(current):]]
        else:
            lines.append(line)
    if current is not None:
        out[current] = "".join(lines)
    return out
bst, forge = blocks(bst_file), blocks(forge_file)
differ = [n for n in bst if forge.get(n) != bst[n]]
extra = [n for n in forge if n not in bst]
print(f"{field}: {len(bst) - len(differ)} of {len(bst)} elements the same"
      + (f", {len(extra)} shown by forge only" if extra else ""))
for n in differ[:3]:
    print(f"--- {n}")
    diff = difflib.unified_diff(bst[n].splitlines(True), forge.get(n, "").splitlines(True), "bst", "forge")
    sys.stdout.writelines(list(diff)[:30])
sys.exit(1 if differ or extra else 0)
EOF
done

format='%{name}|%{deps}|%{build-deps}|%{runtime-deps}'
# shellcheck disable=SC2086
"$FORGE" show --deps all --format "$format" $targets > "$work/forge-deps.txt" 2> "$work/forge.log"
# shellcheck disable=SC2086
"$BST" --no-colors show --deps all --format "$format" $targets > "$work/bst-deps.txt" 2> "$work/bst.log"
if cmp -s "$work/bst-deps.txt" "$work/forge-deps.txt"; then
  echo "dependencies: the --deps all listing is the same ($(grep -c '|' "$work/bst-deps.txt") lines, in the same order)"
else
  echo "dependencies: the listings differ:"
  diff "$work/bst-deps.txt" "$work/forge-deps.txt" | head -n 20
  status=1
fi
exit $status
