"""A container registry for the benchmarks (the reads of the OCI
distribution API, on loopback, no auth).

registry.py make DIR   writes an image of three gzipped layers into DIR
                       (many small files, a few large ones, a layer with
                       whiteouts) and prints its manifest's sha256;
registry.py serve DIR PORT   serves DIR's blobs and manifests."""
import gzip, hashlib, http.server, io, json, os, random, sys, tarfile


def put(root, data):
    digest = hashlib.sha256(data).hexdigest()
    with open(os.path.join(root, "blobs", digest), "wb") as f:
        f.write(data)
    return digest


def layer(files, whiteouts=()):
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for name, data, mode in files:
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), mode
            tar.addfile(info, io.BytesIO(data))
        for name in whiteouts:
            tar.addfile(tarfile.TarInfo(name), io.BytesIO(b""))
    return gzip.compress(raw.getvalue(), compresslevel=1, mtime=0), "sha256:" + hashlib.sha256(raw.getvalue()).hexdigest()


def make(root):
    os.makedirs(os.path.join(root, "blobs"))
    rng = random.Random(7)
    # Text-like content (compressible, as most of a root file system is).
    words = [bytes(rng.choice(b"abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 9))) for _ in range(2000)]
    text = lambda n: b" ".join(rng.choice(words) for _ in range(n // 6))[:n]
    small = [(f"usr/lib/pkg{i // 100}/file{i}.txt", text(rng.randint(500, 12000)), 0o644) for i in range(4000)]
    tools = [(f"usr/bin/tool{i}", rng.randbytes(2 << 20), 0o755) for i in range(16)]
    upper = [(f"usr/share/data/item{i}.json", text(rng.randint(200, 3000)), 0o644) for i in range(1000)]
    hidden = [f"usr/lib/pkg{i}/.wh.file{i * 100}.txt" for i in range(20)]
    made = [layer(small), layer(tools), layer(upper, hidden)]
    layers = [data for data, _ in made]
    digests = [put(root, data) for data in layers]
    config = put(root, json.dumps({"architecture": "amd64", "os": "linux", "config": {}, "rootfs": {"type": "layers", "diff_ids": [d for _, d in made]}}).encode())
    manifest = json.dumps({
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": os.path.getsize(os.path.join(root, "blobs", config)), "digest": "sha256:" + config},
        "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": len(data), "digest": "sha256:" + d} for data, d in zip(layers, digests)],
    }).encode()
    print(put(root, manifest))


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_HEAD(self):
        self.do_GET(body=False)

    def do_GET(self, body=True):
        path = self.path.split("?")[0]
        if path in ("/v2", "/v2/"):
            return self.reply(200, b"{}", "application/json", body)
        parts = path.split("/")
        if len(parts) < 5 or parts[1] != "v2" or not parts[-1].startswith("sha256:"):
            return self.reply(404, b"", "text/plain", body)
        digest = parts[-1][len("sha256:"):]
        file = os.path.join(self.server.root, "blobs", os.path.basename(digest))
        if not os.path.isfile(file):
            return self.reply(404, b"", "text/plain", body)
        data = open(file, "rb").read()
        kind = "application/vnd.docker.distribution.manifest.v2+json" if parts[-2] == "manifests" else "application/octet-stream"
        self.reply(200, data, kind, body, digest)

    def reply(self, status, data, kind, body, digest=None):
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        if digest:
            self.send_header("Docker-Content-Digest", "sha256:" + digest)
        self.end_headers()
        if body:
            self.wfile.write(data)


if __name__ == "__main__":
    if sys.argv[1] == "make":
        make(sys.argv[2])
    else:
        server = http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[3])), Handler)
        server.root = sys.argv[2]
        server.serve_forever()
