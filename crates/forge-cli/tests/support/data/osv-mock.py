"""A loopback stand-in for OSV's /v1/query, for checking forge audit
against pip-audit with no network: usage `osv-mock.py PORT DIR`, where DIR
holds OSV records as *.json. A query {"package": {"name", "ecosystem"},
"version"} is answered with the records affecting that version, decided
here with `packaging` (pip-audit's own dependency), not with forge's code.
Withdrawn records are returned too, as OSV does; the client skips them."""

import http.server
import json
import pathlib
import sys

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

RECORDS = [json.loads(p.read_text()) for p in sorted(pathlib.Path(sys.argv[2]).rglob("*.json"))]


def version_of(text):
    return Version("0") if text == "0" else Version(text)


def in_ranges(entry, version):
    for r in entry.get("ranges", []):
        if r.get("type") != "ECOSYSTEM":
            continue
        events = sorted(r.get("events", []), key=lambda e: version_of(next(iter(e.values()))))
        affected = False
        for event in events:
            kind, bound = next(iter(event.items()))
            if kind == "introduced" and (bound == "0" or version >= Version(bound)):
                affected = True
            elif kind == "fixed" and version >= Version(bound):
                affected = False
            elif kind == "last_affected" and version > Version(bound):
                affected = False
        if affected:
            return True
    return False


def listed(entry, version):
    for text in entry.get("versions", []):
        try:
            if Version(text) == version:
                return True
        except InvalidVersion:
            pass
    return False


def matching(name, ecosystem, version):
    version = Version(version)
    out = []
    for record in RECORDS:
        for entry in record.get("affected", []):
            package = entry.get("package", {})
            if package.get("ecosystem") != ecosystem or canonicalize_name(package.get("name", "")) != name:
                continue
            if listed(entry, version) or in_ranges(entry, version):
                out.append(record)
                break
    return out


class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        query = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        package = query["package"]
        vulns = matching(canonicalize_name(package["name"]), package["ecosystem"], query["version"])
        body = json.dumps({"vulns": vulns} if vulns else {}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
