"""A PEP 503 index of a folder of wheels, for the benchmarks:
simple-index.py WHEELS OUT writes OUT/simple/NAME/index.html (links with
#sha256=) and OUT/files/ (symlinks to the wheels)."""
import hashlib, os, re, sys

src, out = sys.argv[1], sys.argv[2]
projects = {}
for f in sorted(os.listdir(src)):
    if f.endswith(".whl"):
        name = re.sub(r"[-_.]+", "-", f.split("-")[0]).lower()
        projects.setdefault(name, []).append(f)
os.makedirs(out + "/files")
for name, files in projects.items():
    os.makedirs(f"{out}/simple/{name}")
    links = []
    for f in files:
        os.symlink(f"{src}/{f}", f"{out}/files/{f}")
        digest = hashlib.sha256(open(f"{src}/{f}", "rb").read()).hexdigest()
        links.append(f'<a href="../../files/{f}#sha256={digest}">{f}</a>')
    open(f"{out}/simple/{name}/index.html", "w").write("\n".join(links))
