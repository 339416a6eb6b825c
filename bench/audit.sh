#!/bin/sh
# `forge audit` against pip-audit, in the same run, on the same advisories:
# a generated snapshot shaped like the PyPA advisory database (3,000 OSV
# records over 700 packages, ECOSYSTEM ranges plus versions lists) and 100
# pinned packages, 40 of them affected. forge reads the snapshot as a
# pinned `local` source; pip-audit queries a loopback OSV endpoint
# (tests' osv-mock.py, `--osv-url`) holding the same records, one request
# per package — as it queries osv.dev, minus the internet's latency. The
# two must report the same ids.
# Usage: bench/audit.sh [PIP_AUDIT]   (path to pip-audit; required)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
PIP_AUDIT=${1:-${PIP_AUDIT:-pip-audit}}
command -v "$PIP_AUDIT" > /dev/null 2>&1 || { echo "audit.sh: pip-audit not found (give its path)" >&2; exit 2; }
FORGE="$root/target/release/forge"
(cd "$root" && cargo build --release -q)
work=$(mktemp -d /dev/shm/forge-audit-bench.XXXXXX 2>/dev/null || mktemp -d)
mock_pid=
cleanup() { [ -n "$mock_pid" ] && kill $mock_pid 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
now() { date +%s%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b - a) / 1e9 }'; }

mkdir -p "$work/project/elements" "$work/project/db" "$work/records"
python3 - "$work" <<'PY'
import json, pathlib, random, sys
work = pathlib.Path(sys.argv[1])
rng = random.Random(7)
packages = [f"pkg{i:03d}" for i in range(700)]
for n in range(3000):
    name = packages[n % 700]
    fixed = f"{rng.randint(1, 9)}.{rng.randint(0, 20)}.{rng.randint(0, 9)}"
    record = {
        "id": f"PYSEC-2020-{n}", "modified": "2024-01-01T00:00:00Z", "aliases": [f"CVE-2020-{10000 + n}"],
        "details": f"Generated advisory {n} for {name}.",
        "affected": [{"package": {"ecosystem": "PyPI", "name": name},
                      "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": fixed}]}],
                      "versions": [f"0.{v}" for v in range(rng.randint(5, 40))]}],
    }
    text = json.dumps(record)
    (work / "records" / f"{record['id']}.json").write_text(text)
    (work / "project" / "db" / f"{record['id']}.json").write_text(text)
req = []
for i in range(100):
    name = packages[i * 7]
    version = "0.1" if i < 40 else "99.0"   # 40 affected, 60 clean
    req.append(f"{name}=={version}")
    (work / "project" / "elements" / f"{name}.bst").write_text(
        "kind: pip\nsources:\n- kind: pypi\n  url: pypi:simple/\n  name: %s\n  ref:\n    version: '%s'\n"
        "    filename: %s-%s-py3-none-any.whl\n    sha256: %s\n" % (name, version, name, version, "0" * 64))
(work / "req.txt").write_text("\n".join(req) + "\n")
(work / "project" / "elements" / "advisories.bst").write_text(
    "kind: advisories\nsources:\n- kind: local\n  path: db\n")
(work / "project" / "elements" / "all.bst").write_text(
    "kind: stack\ndepends:\n" + "".join(f"- {r.split('==')[0]}.bst\n" for r in req))
PY
cat > "$work/project/project.conf" <<CONF
name: auditbench
min-version: 2.0
element-path: elements
aliases:
  pypi: http://127.0.0.1:9/
CONF

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
python="$(dirname "$PIP_AUDIT")/python"
"$python" "$root/crates/forge-cli/tests/support/data/osv-mock.py" "$port" "$work/records" &
mock_pid=$!
while ! python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), 1)" 2>/dev/null; do sleep 0.1; done

RUNS=${RUNS:-3}
i=0
while [ "$i" -lt "$RUNS" ]; do
  rm -rf "$work/cache" "$work/pa-cache"
  t0=$(now)
  "$FORGE" -C "$work/project" --cache-dir "$work/cache" audit all.bst --format json --fail-on none > "$work/forge.json" 2>/dev/null
  t1=$(now)
  "$FORGE" -C "$work/project" --cache-dir "$work/cache" audit all.bst --format json --fail-on none > /dev/null 2>&1
  t2=$(now)
  "$PIP_AUDIT" --no-deps --disable-pip --progress-spinner off -s osv -f json --cache-dir "$work/pa-cache" \
    --osv-url "http://127.0.0.1:$port/v1/query" -r "$work/req.txt" > "$work/pip-audit.json" 2>/dev/null || true
  t3=$(now)
  echo "run $((i + 1)): forge cold $(secs $t0 $t1) s, forge warm $(secs $t1 $t2) s, pip-audit $(secs $t2 $t3) s"
  i=$((i + 1))
done
python3 - "$work" <<'PY'
import json, sys
work = sys.argv[1]
ids = lambda doc: {d["name"]: sorted(v["id"] for v in d["vulns"]) for d in doc["dependencies"] if "vulns" in d}
forge, theirs = ids(json.load(open(f"{work}/forge.json"))), ids(json.load(open(f"{work}/pip-audit.json")))
found = sum(len(v) for v in forge.values())
print(f"findings: forge {found}, pip-audit {sum(len(v) for v in theirs.values())}, same ids: {forge == theirs}")
sys.exit(0 if forge == theirs else 1)
PY
