#!/usr/bin/env python3
"""What the .wasm is made of: bytes per section, and code bytes per crate
(from the name section, so run it on the wasm rustc wrote, before
wasm-bindgen and wasm-opt strip names). A stand-in for twiggy with no
dependency: `python3 bindings/tools/wasm_sizes.py target/wasm32-unknown-unknown/wasm-release/cliquet_js.wasm`."""

import re
import sys
from collections import Counter


def leb(b, i):
    result = shift = 0
    while True:
        byte = b[i]
        i += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return result, i


def crate_of(name):
    """The crate a (legacy- or v0-mangled, or plain) symbol belongs to."""
    m = re.match(r"_ZN(\d+)", name)
    if m:
        n = int(m.group(1))
        first = name[m.end():m.end() + n]
        inner = re.match(r"_\$LT\$([A-Za-z_][A-Za-z0-9_]*)", first)
        return inner.group(1) if inner else first
    m = re.search(r"C[sv]?[0-9A-Za-z]*_(\d+)([A-Za-z_])", name)
    if name.startswith("_R") and m:
        n = int(m.group(1))
        start = m.start(2)
        return name[start:start + n]
    m = re.match(r"<?([A-Za-z_][A-Za-z0-9_]*)::", name)
    if m:
        return m.group(1)
    return "(other)" if name != "?" else "(unnamed)"


def main(path):
    b = open(path, "rb").read()
    i = 8
    sections = Counter()
    bodies = []  # sizes of function bodies, in order
    names = {}
    imported = 0
    names_of = {0: "custom", 1: "type", 2: "import", 3: "function", 5: "memory", 6: "global",
                7: "export", 10: "code", 11: "data", 12: "datacount", 4: "table", 8: "start", 9: "element"}
    while i < len(b):
        sid = b[i]
        size, j = leb(b, i + 1)
        body = b[j:j + size]
        label = names_of.get(sid, str(sid))
        if sid == 0:
            n, k = leb(body, 0)
            cname = body[k:k + n].decode()
            label = f"custom:{cname}"
            if cname == "name":
                k += n
                while k < len(body):
                    sub, k = leb(body, k + 1) if False else (body[k], k + 1)
                    ssize, k = leb(body, k)
                    if sub == 1:
                        kk = k
                        count, kk = leb(body, kk)
                        for _ in range(count):
                            idx, kk = leb(body, kk)
                            ln, kk = leb(body, kk)
                            names[idx] = body[kk:kk + ln].decode(errors="replace")
                            kk += ln
                    k += ssize
        elif sid == 2:
            count, k = leb(body, 0)
            for _ in range(count):
                for _ in range(2):
                    ln, k = leb(body, k)
                    k += ln
                kind = body[k]
                k += 1
                if kind == 0:
                    imported += 1
                    _, k = leb(body, k)
                elif kind == 1:
                    k += 1
                    flags = body[k]; k += 1
                    _, k = leb(body, k)
                    if flags & 1:
                        _, k = leb(body, k)
                elif kind == 2:
                    flags = body[k]; k += 1
                    _, k = leb(body, k)
                    if flags & 1:
                        _, k = leb(body, k)
                elif kind == 3:
                    k += 2
        elif sid == 10:
            count, k = leb(body, 0)
            for _ in range(count):
                sz, k = leb(body, k)
                bodies.append(sz)
                k += sz
        sections[label] += size
        i = j + size
    total = len(b)
    print(f"{path}: {total} bytes")
    for label, size in sections.most_common():
        print(f"  {label:28} {size:9} {100 * size / total:5.1f}%")
    crates = Counter()
    for n, sz in enumerate(bodies):
        name = names.get(imported + n, "?")
        crate = crate_of(name)
        crates[crate] += sz
    code = sum(bodies)
    print(f"code by crate ({code} bytes of function bodies):")
    for crate, size in crates.most_common(15):
        print(f"  {crate:28} {size:9} {100 * size / code:5.1f}%")


if __name__ == "__main__":
    main(sys.argv[1])
