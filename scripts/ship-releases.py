#!/usr/bin/env python3
"""Regenerates contracts/ontap-X.Y.json.gz, the releases of NetApp's API shipped with the harness.

For each release of `netapp-ontap` below it installs the package into a cache directory (once;
`pip install --target`), reads it with src/spec/import/netapp_ontap.py (the same script
`ontap-conform spec import --netapp-ontap` runs), marks each family with the release that
introduced it, and writes the document gzip-compressed (no timestamp: the same input gives the
same bytes).

A family first seen in release R is marked as introduced in the release after the shipped one
before R (9.10 -> 9.12 gives 9.11): a release without a package may have had it already, and the
earlier mark never makes the harness expect a 404 where the path may exist.

Usage: scripts/ship-releases.py [CACHE_DIR]   (default: ~/.cache/ontap-conform/netapp-ontap)
"""
import gzip, json, os, subprocess, sys
from pathlib import Path

RELEASES = ["9.6.0", "9.7.3", "9.8.0", "9.9.1.0", "9.10.1.0", "9.12.1.0", "9.13.1.0",
            "9.14.1.0", "9.15.1.1", "9.16.1.0", "9.17.1.0", "9.18.1.0", "9.19.1.0"]
root = Path(__file__).resolve().parent.parent
cache = Path(sys.argv[1]) if len(sys.argv) > 1 else Path.home() / ".cache/ontap-conform/netapp-ontap"
script = root / "src/spec/import/netapp_ontap.py"


def short(v):
    return ".".join(v.split(".")[:2])


def next_minor(v):
    major, minor = short(v).split(".")
    return f"{major}.{int(minor) + 1}"


docs = []
for v in RELEASES:
    d = cache / v
    # marshmallow 4 breaks the older releases (an abstract Number); 3.x reads them all.
    if not (d / "netapp_ontap").is_dir():
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--target", str(d),
                        f"netapp-ontap=={v}", "marshmallow<4"], check=True)
    out = subprocess.run([sys.executable, str(script), str(d)], check=True, capture_output=True,
                         env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    docs.append(json.loads(out.stdout))
    print(v, len(docs[-1]["families"]), "families", file=sys.stderr)

first = {}
for i, doc in enumerate(docs):
    for f in doc["families"]:
        first.setdefault(f["path"], i)
for i, doc in enumerate(docs):
    for f in doc["families"]:
        j = first[f["path"]]
        f["introduced"] = short(RELEASES[0]) if j == 0 else next_minor(RELEASES[j - 1])
        f.pop("class", None)
        for ff in f["fields"].values():
            if not ff.get("nullable"):
                ff.pop("nullable", None)
    name = f"ontap-{short(RELEASES[i])}.json.gz"
    data = json.dumps(doc, separators=(",", ":"), sort_keys=True).encode()
    with open(root / "contracts" / name, "wb") as fh:
        with gzip.GzipFile(filename="", mode="wb", fileobj=fh, mtime=0, compresslevel=9) as gz:
            gz.write(data)
    print(name, len(data), "bytes,", (root / "contracts" / name).stat().st_size, "compressed",
          file=sys.stderr)
