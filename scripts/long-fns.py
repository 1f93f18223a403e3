#!/usr/bin/env python3
"""Lists Rust functions longer than N lines (default 80), longest first.

usage: scripts/long-fns.py [--max N] [--count] PATH...

A function runs from its `fn` line to the line of the brace that closes its body (braces in
strings, chars and comments are skipped). Closures are not counted; nested fns are, on their own.
"""
import re
import sys
from pathlib import Path

FN = re.compile(r'^\s*(pub(\([^)]*\))?\s+)?(const\s+)?(async\s+)?(unsafe\s+)?(extern\s+"[^"]*"\s+)?fn\s+([A-Za-z_][A-Za-z0-9_]*)')


def strip(line, state):
    """Removes strings, chars and comments from one line; state carries block comments and
    raw/normal strings across lines."""
    out = []
    i = 0
    n = len(line)
    while i < n:
        if state["block"]:
            j = line.find("*/", i)
            if j < 0:
                return "".join(out)
            state["block"] = False
            i = j + 2
            continue
        if state["str"] is not None:
            end = state["str"]
            if end == '"':
                while i < n:
                    if line[i] == "\\":
                        i += 2
                        continue
                    if line[i] == '"':
                        state["str"] = None
                        i += 1
                        break
                    i += 1
                continue
            j = line.find(end, i)
            if j < 0:
                return "".join(out)
            state["str"] = None
            i = j + len(end)
            continue
        c = line[i]
        if line.startswith("//", i):
            break
        if line.startswith("/*", i):
            state["block"] = True
            i += 2
            continue
        m = re.match(r'b?r(#*)"', line[i:])
        if m and (i == 0 or not (line[i - 1].isalnum() or line[i - 1] == "_")):
            state["str"] = '"' + m.group(1)
            i += m.end()
            continue
        if c == '"':
            state["str"] = '"'
            i += 1
            continue
        if c == "'":
            m = re.match(r"'(\\.[^']*|[^'\\])'", line[i:])
            if m:
                i += m.end()
                continue
        out.append(c)
        i += 1
    return "".join(out)


def functions(path):
    lines = Path(path).read_text(encoding="utf-8", errors="replace").splitlines()
    state = {"block": False, "str": None}
    clean = [strip(l, state) for l in lines]
    found = []
    for start, l in enumerate(clean):
        m = FN.match(l)
        if not m:
            continue
        depth = 0
        opened = False
        for k in range(start, len(clean)):
            for ch in clean[k]:
                if ch == "{":
                    depth += 1
                    opened = True
                elif ch == "}":
                    depth -= 1
                elif ch == ";" and not opened and depth == 0:
                    break
            else:
                if opened and depth == 0:
                    found.append((k - start + 1, path, start + 1, m.group(7)))
                    break
                continue
            break
    return found


def main(argv):
    limit = 80
    count = False
    paths = []
    it = iter(argv)
    for a in it:
        if a == "--max":
            limit = int(next(it))
        elif a == "--count":
            count = True
        else:
            paths.append(a)
    files = []
    for p in paths:
        p = Path(p)
        files += sorted(p.rglob("*.rs")) if p.is_dir() else [p]
    long = sorted((f for path in files for f in functions(path) if f[0] > limit), reverse=True)
    if count:
        print(len(long))
        return
    for n, path, line, name in long:
        print(f"{n:5} {path}:{line} {name}")


if __name__ == "__main__":
    main(sys.argv[1:])
