#!/usr/bin/env python3
"""The import picture of src/: which top-level module uses which, from every `crate::` path.

Prints one line per arrow between top-level modules of src/ (a folder or a single file such
as config.rs), with how many references carry it, then the arrows that climb back up the
layer order below and every circle between modules. Exit status 1 when either exists, so the
test command (scripts/test.sh) keeps the picture a stack.

    python3 scripts/imports.py            # the picture
    python3 scripts/imports.py --check    # only the verdict (CI)
"""
import pathlib
import re
import sys
from collections import defaultdict

# Bottom first: a module may use only the modules of lower layers. The capabilities are a
# stack too (each may call the services below it: accounts asks mfa whether a second step is
# due, the OpenID provider signs users in through accounts), so no two of them can form a
# circle. A new capability takes its place in this list.
LAYERS = [
    ["clock", "domain"],
    ["store"],
    ["config"],
    ["error"],
    ["actors"],
    ["infra"],
    ["edge"],
    ["sessions"],
    ["mfa"],
    ["accounts"],
    ["federation"],
    ["organizations"],
    ["scim"],
    ["oidc"],
    ["webhooks"],
    ["admin"],
    ["tenants"],
    ["console"],
    ["app"],
    ["graphql"],
    ["http"],
    ["lib", "main"],
]

ROOT = pathlib.Path(__file__).resolve().parent.parent / "src"
PATH = re.compile(r"\bcrate::(?:\{\s*)?([a-z_][a-z0-9_]*)\b(?!!)")  # not a macro: crate::name!
USE_GROUP = re.compile(r"use\s+crate::\{([^;]*)\};", re.S)


def module_of(path: pathlib.Path) -> str:
    rel = path.relative_to(ROOT)
    return rel.parts[0].removesuffix(".rs")


def references(text: str):
    # Strip comments so prose naming a path does not count.
    text = re.sub(r"//[^\n]*", "", text)
    for m in PATH.finditer(text):
        yield m.group(1)
    for m in USE_GROUP.finditer(text):
        for part in re.split(r",(?![^{]*\})", m.group(1)):
            name = part.strip().split("::")[0].strip("{} \n")
            if name:
                yield name


def main() -> int:
    arrows = defaultdict(int)
    modules = set()
    for path in sorted(ROOT.rglob("*.rs")):
        src = module_of(path)
        modules.add(src)
        for dst in references(path.read_text()):
            if dst in ("self", "super"):
                continue
            modules.add(dst)
            if dst != src:
                arrows[(src, dst)] += 1
    rank = {m: i for i, layer in enumerate(LAYERS) for m in layer}
    unknown = sorted(m for m in modules if m not in rank)
    up = [(a, b) for (a, b) in arrows if a in rank and b in rank and rank[b] >= rank[a]]
    graph = defaultdict(set)
    for a, b in arrows:
        graph[a].add(b)
    circles = set()

    def walk(start, node, path):
        for nxt in graph[node]:
            if nxt == start:
                circles.add(tuple(sorted(path)))
            elif nxt not in path and len(path) < 8:
                walk(start, nxt, path + [nxt])

    for m in list(graph):
        walk(m, m, [m])
    check = "--check" in sys.argv
    if not check:
        print("arrows between top-level modules of src/ (from -> to: references):")
        for (a, b), n in sorted(arrows.items(), key=lambda kv: (rank.get(kv[0][0], 99), kv[0])):
            print(f"  {a} -> {b}: {n}")
    for m in unknown:
        print(f"module not placed in a layer: {m}")
    for a, b in sorted(up):
        print(f"climbs back up: {a} -> {b} ({arrows[(a, b)]} references)")
    for c in sorted(circles):
        print(f"circle: {' <-> '.join(c)}")
    print(f"{len(arrows)} arrows, {len(up)} climbing up, {len(circles)} circles, {len(unknown)} unplaced")
    return 1 if (up or circles or unknown) else 0


if __name__ == "__main__":
    sys.exit(main())
