#!/usr/bin/env python3
"""Lists cliquet's public surface from rustdoc's JSON output.

    cargo +nightly rustdoc -p cliquet --lib -- -Z unstable-options --output-format json
    python3 tools/public_api.py [target/doc/cliquet.json]

Prints every public item reachable from the crate root (types, functions,
constants, modules) and, per type, the public inherent methods and
associated constants; then the totals. Trait implementations (Debug,
Display, From, ...) are not counted.
"""

import json
import sys


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else "target/doc/cliquet.json"
    doc = json.load(open(path))
    index = doc["index"]
    root = index[str(doc["root"])]

    def item(i):
        return index.get(str(i))

    def kind(it):
        return next(iter(it["inner"]))

    seen, top = set(), []

    def walk(module):
        for child in module["inner"]["module"]["items"]:
            it = item(child)
            if not it or it.get("visibility") != "public":
                continue
            k = kind(it)
            if k == "use":
                target = it["inner"]["use"].get("id")
                t = item(target) if target is not None else None
                if t is None or id(t) in seen:
                    continue
                seen.add(id(t))
                top.append(t)
            elif k == "module":
                top.append(it)
                walk(it)
            else:
                if id(it) not in seen:
                    seen.add(id(it))
                    top.append(it)

    walk(root)
    total_methods = 0
    rows = []
    for it in top:
        k = kind(it)
        methods = []
        if k in ("struct", "enum"):
            for impl_id in it["inner"][k]["impls"]:
                impl = item(impl_id)
                if not impl or impl["inner"]["impl"].get("trait") is not None:
                    continue
                for m in impl["inner"]["impl"]["items"]:
                    mi = item(m)
                    if mi and mi.get("visibility") == "public":
                        methods.append(mi["name"])
        total_methods += len(methods)
        rows.append((k, it.get("name") or "?", sorted(methods)))
    for k, name, methods in sorted(rows, key=lambda r: (r[0], r[1])):
        print(f"{k:8} {name:28} {len(methods):3}  {', '.join(methods)}")
    print(f"\n{len(rows)} public items, {total_methods} public methods and associated constants")


if __name__ == "__main__":
    main()
