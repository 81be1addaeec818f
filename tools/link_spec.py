#!/usr/bin/env python3
"""Links every "SPEC §N" in the crate's doc comments to the spec module.

    python3 tools/link_spec.py [--check] [SRC_DIR]

The crate includes SPEC.md in its docs as `cliquet::spec`, so docs.rs shows
every section the docs cite. This rewrites `SPEC.md §N` to `SPEC §N` and a
bare `SPEC §N` to `[SPEC §N](crate::spec)` in `///` and `//!` lines, outside
code blocks and code spans. With --check it changes nothing and exits 1 if a
file would change (CI runs it so).
"""

import os
import re
import sys

CITE = re.compile(r"(?<!\[)SPEC(?:\.md)? §(\d+[a-z]?)(?!\]\()")


def link_line(text):
    # Leave code spans alone: split on backticks, rewrite the even parts.
    parts = text.split("`")
    for i in range(0, len(parts), 2):
        parts[i] = CITE.sub(lambda m: f"[SPEC §{m.group(1)}](crate::spec)", parts[i])
    return "`".join(parts)


def rewrite(source):
    out, fenced = [], False
    for line in source.split("\n"):
        m = re.match(r"^(\s*//[/!] ?)(.*)$", line)
        if not m:
            out.append(line)
            continue
        prefix, text = m.groups()
        if text.lstrip().startswith("```"):
            fenced = not fenced
            out.append(line)
            continue
        out.append(line if fenced else prefix + link_line(text))
    return "\n".join(out)


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    check = "--check" in sys.argv
    src = args[0] if args else "src"
    changed = []
    for root, _, names in os.walk(src):
        for n in sorted(names):
            if not n.endswith(".rs"):
                continue
            p = os.path.join(root, n)
            old = open(p).read()
            new = rewrite(old)
            if new != old:
                changed.append(p)
                if not check:
                    open(p, "w").write(new)
    for p in changed:
        print(("unlinked SPEC citation in " if check else "linked ") + p)
    return 1 if check and changed else 0


if __name__ == "__main__":
    sys.exit(main())
