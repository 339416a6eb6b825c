#!/bin/sh
# Compares `forge show --format` with `bst show --format` on the fixture
# projects: resolved variables, environment, config, public data, states,
# dependencies and order must be byte for byte the same (cache keys differ
# by design: forge's key layout is its own, see docs/cache-keys.md).
#
# Opt-in: needs BuildStream 2.8.1 with buildstream-plugins 2.8.0 and
# buildstream-plugins-community 2.4.0 (whose plugins need dulwich, requests
# and tomlkit, and host git and lzip), e.g.
#   python3 -m venv /opt/bst && /opt/bst/bin/pip install buildstream==2.8.1 \
#     buildstream-plugins==2.8.0 buildstream-plugins-community==2.4.0 dulwich requests tomlkit
#   apt-get install bubblewrap git lzip
# (buildstream-plugins-community 2.4.0 ships go_module without its entry
# point: add `go_module = buildstream_plugins_community.sources.go_module`
# under [buildstream.plugins.sources] in its entry_points.txt.)
# Usage: tests/compat/compare-with-bst.sh [--record] [BST] [FORGE]
# (FIXTURE=NAME limits it to tests/fixtures/NAME.)
#
# --record also writes bst's answers to tests/fixtures/*/bst-show.golden,
# which the hermetic test suite (crates/forge-cli/tests/compat.rs) checks
# forge against on every run, without BuildStream installed.
set -eu
record=false
if [ "${1:-}" = "--record" ]; then record=true; shift; fi
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
BST=${1:-${BST:-bst}}
FORGE=${2:-${FORGE:-$root/target/release/forge}}
command -v "$BST" >/dev/null 2>&1 || { echo "compare-with-bst: '$BST' not found; see the header of this script" >&2; exit 2; }
[ -x "$FORGE" ] || { echo "compare-with-bst: build forge first (cargo build --release)" >&2; exit 2; }

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
failures=0
checks=0
for project in "$root"/tests/fixtures/${FIXTURE:-*}/; do
  [ -f "$project/compat-targets" ] || continue
  targets=$(cat "$project/compat-targets")
  golden="$project/bst-show.golden"
  if $record; then : > "$golden"; fi
  while IFS= read -r opts; do
    for fmt in '%{name} %{kind} %{state} %{description}' '%{name}%{vars}' '%{name}%{env}' \
               '%{name}%{config}' '%{name}%{public}' '%{name}|%{deps}|%{build-deps}|%{runtime-deps}' \
               '%{config}%{name}' '%{state: >12} %{name}'; do
      for deps in all none run build; do
        checks=$((checks + 1))
        # shellcheck disable=SC2086
        (cd "$project" && "$BST" --no-colors --max-jobs 2 $opts show --deps "$deps" --format "$fmt" $targets 2>/dev/null) > "$out/bst" || true
        if $record; then
          printf '### options=%s\n### deps=%s\n### format=%s\n### bytes=%s\n' "$opts" "$deps" "$fmt" "$(wc -c < "$out/bst" | tr -d ' ')" >> "$golden"
          cat "$out/bst" >> "$golden"
        fi
        # shellcheck disable=SC2086
        (cd "$project" && "$FORGE" --max-jobs 2 $opts show --deps "$deps" --format "$fmt" $targets 2>/dev/null) > "$out/forge" || true
        if ! cmp -s "$out/bst" "$out/forge"; then
          failures=$((failures + 1))
          echo "DIFF: $(basename "$project") [$opts] --deps $deps --format '$fmt'"
          diff "$out/bst" "$out/forge" | head -20
        fi
      done
    done
  done < "$project/compat-options"
done
echo "$((checks - failures)) passed, $failures failed"
[ "$failures" -eq 0 ]
