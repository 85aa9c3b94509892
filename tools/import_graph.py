#!/usr/bin/env python3
"""The import graph of the workspace's crates: circles, upward arrows, file sizes.

A node is a source file; an arrow A -> B means code in A names an item defined in B, through a
`use` tree or a path in code (`crate::…`, `super::…`, `self::…`, or a child module's name).
Re-exports are followed to the file that defines the item, so a facade (`lib.rs`, `mod.rs`)
does not stand between two files. A parent's own `mod child;` and `pub use child::…` lines
are declarations of its surface, not arrows. Test code is left out: files declared under
`#[cfg(test)]` and everything after a `#[cfg(test)]` line in a file.

    tools/import_graph.py                 # report every crate
    tools/import_graph.py --check         # exit 1 if any crate has an import circle
    tools/import_graph.py --crate driver  # one crate, with its arrows
"""

import argparse
import os
import re
import sys
from collections import defaultdict

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# name -> crate root file (relative to the workspace root)
CRATES = {
    "driver": "driver/src/lib.rs",
    "codegen": "codegen/src/lib.rs",
    "macros": "codegen/macros/src/lib.rs",
    "sim": "sim/src/lib.rs",
    "harness": "generated-tests/harness/lib.rs",
    "bench": "bench/src/main.rs",
}

# The driver's layers, bottom (0) to top, by top-level module; a module not listed is
# reported as unplaced. An arrow from a lower rank to a higher one runs upward.
DRIVER_LAYERS = {
    "error": 0, "options": 0, "results": 0,
    "wire": 1, "commands": 1,
    "connection": 2,
    "cmap": 3,
    "sdam": 4, "selection": 4, "monitor": 4, "topology": 4, "event": 4,
    "session": 5,
    "operation": 6,
    "executor": 7,
    "api": 8,
}
LAYERS = {"driver": DRIVER_LAYERS}

COMMENT = re.compile(r"//.*?$|/\*.*?\*/", re.S | re.M)
STRING = re.compile(r'r#*"(?:.|\n)*?"#*|"(?:\\.|[^"\\])*"')
CHAR = re.compile(r"'(?:\\.|[^'\\])'")
MOD_DECL = re.compile(
    r"((?:#\[[^\]]*\]\s*)*)(?:pub(?:\([^)]*\))?\s+)?mod\s+(\w+)\s*;")
PATH_ATTR = re.compile(
    r'#\[path\s*=\s*"([^"]+)"\]\s*(?:#\[[^\]]*\]\s*)*(?:pub(?:\([^)]*\))?\s+)?mod\s+(\w+)\s*;')
INLINE_MOD = re.compile(r"(?:pub(?:\([^)]*\))?\s+)?mod\s+(\w+)\s*\{")
USE = re.compile(r"\b(pub(?:\([^)]*\))?\s+)?use\s+([^;]+);")
PATH = re.compile(r"(?<![\w:])((?:crate|super|self|[a-z_][a-z0-9_]*)(?:::[A-Za-z_]\w*)+)")


def strip(text):
    text = COMMENT.sub("", text)
    text = STRING.sub('""', text)
    return CHAR.sub("' '", text)


def cut_tests(text):
    m = re.search(r"#\[cfg\(test\)\]", text)
    return text[: m.start()] if m else text


class Module:
    def __init__(self, path, file, is_dir_owner):
        self.path = path  # tuple of segments from the crate root
        self.file = file
        self.is_dir_owner = is_dir_owner  # lib.rs / mod.rs / main.rs own their folder
        self.children = {}
        self.reexports = {}  # name -> absolute path segments
        self.globs = []  # absolute module paths glob re-exported
        self.text = ""
        self.test_only = False


def load_crate(root_file):
    modules = {}

    def load(path, file, owner, test_only):
        m = Module(path, file, owner)
        m.test_only = test_only
        modules[path] = m
        with open(os.path.join(ROOT, file), encoding="utf-8") as f:
            source = f.read()
        raw = strip(source)
        m.text = raw
        # `#[path = "…"]` files (strip() blanks the strings, so read them from the source):
        # relative to the declaring file's folder, and owning their folder as a mod.rs does.
        paths = {name: p for p, name in PATH_ATTR.findall(COMMENT.sub("", source))}
        base = os.path.dirname(file) if owner else os.path.splitext(file)[0]
        for attrs, name in MOD_DECL.findall(raw):
            cfg_test = "cfg(test)" in attrs.replace(" ", "")
            if name in paths:
                cands = [os.path.normpath(os.path.join(os.path.dirname(file), paths[name]))]
            else:
                cands = [os.path.join(base, name + ".rs"), os.path.join(base, name, "mod.rs")]
            child = next((c for c in cands if os.path.exists(os.path.join(ROOT, c))), None)
            if child is None:
                continue
            m.children[name] = path + (name,)
            load(path + (name,), child, name in paths or child.endswith("mod.rs"), test_only or cfg_test)

    load((), root_file, True, False)
    return modules


def use_leaves(tree):
    """Expands a use tree into (segments, alias) leaves."""
    # Mark `x as y` before the spaces go, so that a name containing "as" is not split.
    tree = re.sub(r"\s+as\s+", "@", tree)
    tree = re.sub(r"\s+", "", tree)
    out = []

    def walk(prefix, t):
        if "{" in t and (t.find("{") < t.find("::{") + 3 if "::{" in t else t.startswith("{")):
            i = t.index("{")
            head = t[:i].rstrip(":")
            inner = t[i + 1 : t.rindex("}")]
            segs = prefix + [s for s in head.split("::") if s]
            depth, start = 0, 0
            for j, c in enumerate(inner + ","):
                if c == "{":
                    depth += 1
                elif c == "}":
                    depth -= 1
                elif c == "," and depth == 0:
                    part = inner[start:j]
                    start = j + 1
                    if part:
                        walk(segs, part)
            return
        alias = None
        if "@" in t:
            t, _, alias = t.rpartition("@")
        out.append((prefix + [s for s in t.split("::") if s], alias))

    walk([], tree)
    return out


def absolute(modules, here, segs):
    """Turns a path written in module `here` into absolute segments, or None if external."""
    if not segs:
        return None
    cur = list(here)
    first = segs[0]
    if first == "crate":
        return segs[1:]
    if first in ("super", "self"):
        i = 0
        while i < len(segs) and segs[i] in ("super", "self"):
            if segs[i] == "super":
                if not cur:
                    return None
                cur.pop()
            i += 1
        return cur + segs[i:]
    m = modules.get(tuple(cur))
    if m and first in m.children:
        return cur + segs
    return None


def collect_reexports(modules):
    for m in modules.values():
        body = cut_tests(m.text)
        for vis, tree in USE.findall(body):
            if not vis:
                continue
            for segs, alias in use_leaves(tree):
                absp = absolute(modules, m.path, segs)
                if absp is None:
                    continue
                if segs and segs[-1] == "*":
                    m.globs.append(tuple(absp[:-1]))
                    continue
                name = alias or (absp[-1] if absp else None)
                if name and name != "self":
                    m.reexports[name] = absp


def resolve(modules, absp, depth=0):
    """The file defining the item at absolute path `absp`."""
    if depth > 12:
        return None
    segs = list(absp)
    if segs and segs[-1] in ("self", "*"):
        segs = segs[:-1]
    k = len(segs)
    while k >= 0 and tuple(segs[:k]) not in modules:
        k -= 1
    if k < 0:
        return None
    mod = modules[tuple(segs[:k])]
    if k < len(segs):
        name = segs[k]
        if name in mod.reexports:
            target = mod.reexports[name] + segs[k + 1 :]
            if tuple(target) != tuple(segs):
                return resolve(modules, target, depth + 1) or mod.file
        for g in mod.globs:
            gm = modules.get(g)
            if gm and (name in gm.reexports or re.search(
                r"\b(?:fn|struct|enum|trait|type|const|static|mod|macro_rules!)\s+%s\b" % re.escape(name),
                gm.text,
            )):
                return resolve(modules, list(g) + segs[k:], depth + 1) or gm.file
    return mod.file


def graph(modules):
    collect_reexports(modules)
    edges = defaultdict(set)
    by_file = modules_by_file(modules)
    for m in modules.values():
        if m.test_only:
            continue
        body = cut_tests(m.text)
        refs = []
        for vis, tree in USE.findall(body):
            for segs, _ in use_leaves(tree):
                refs.append((segs, bool(vis)))
        no_use = USE.sub("", body)
        for p in PATH.findall(no_use):
            refs.append((p.split("::"), False))
        for segs, is_pub in refs:
            absp = absolute(modules, m.path, segs)
            if absp is None:
                continue
            # a parent re-exporting or naming its own descendants' surface is a declaration
            if is_pub and tuple(absp[: len(m.path)]) == m.path and len(absp) > len(m.path):
                continue
            target = resolve(modules, absp)
            if target and target != m.file and not by_file[target].test_only:
                edges[m.file].add(target)
    return edges


def modules_by_file(modules):
    return {m.file: m for m in modules.values()}


def sccs(nodes, edges):
    index, low, on, stack, out = {}, {}, set(), [], []
    counter = [0]
    sys.setrecursionlimit(10000)

    def strong(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(nodes):
        if v not in index:
            strong(v)
    return out


def lines(file):
    with open(os.path.join(ROOT, file), encoding="utf-8") as f:
        return sum(1 for _ in f)


def report(name, root, verbose):
    modules = load_crate(root)
    edges = graph(modules)
    files = sorted(m.file for m in modules.values())
    circles = sccs(files, edges)
    narrows = sum(len(v) for v in edges.values())
    sizes = sorted(((lines(f), f) for f in files), reverse=True)
    print(f"## {name} ({root}): {len(files)} files, {narrows} arrows, "
          f"{len(circles)} circle(s)")
    print("   largest: " + ", ".join(f"{os.path.relpath(f, os.path.dirname(root))} {n}"
                                     for n, f in sizes[:5]))
    over = [(n, f) for n, f in sizes if n > 800]
    if over:
        print("   over 800 lines: " + ", ".join(f"{f} {n}" for n, f in over))
    for c in circles:
        print(f"   circle of {len(c)}: " + " ".join(c))
        if verbose:
            cs = set(c)
            for a in c:
                for b in sorted(edges.get(a, ())):
                    if b in cs:
                        print(f"      {a} -> {b}")
    layers = LAYERS.get(name)
    if layers:
        by_file = modules_by_file(modules)
        up, unplaced = [], set()
        for a, bs in sorted(edges.items()):
            for b in sorted(bs):
                ta, tb = by_file[a].path[:1], by_file[b].path[:1]
                if not ta or not tb:
                    continue
                ra, rb = layers.get(ta[0]), layers.get(tb[0])
                for t, r in ((ta[0], ra), (tb[0], rb)):
                    if r is None:
                        unplaced.add(t)
                if ra is not None and rb is not None and rb > ra:
                    up.append((a, b))
        print(f"   upward arrows: {len(up)}")
        for a, b in up:
            print(f"      {a} -> {b}")
        if unplaced:
            print("   modules without a layer: " + ", ".join(sorted(unplaced)))
    if verbose:
        for a in sorted(edges):
            print(f"   {a} -> " + " ".join(sorted(edges[a])))
    return len(circles)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="exit 1 if a crate has a circle")
    ap.add_argument("--crate", choices=sorted(CRATES), help="only this crate, verbosely")
    args = ap.parse_args()
    names = [args.crate] if args.crate else list(CRATES)
    total = 0
    for n in names:
        total += report(n, CRATES[n], bool(args.crate))
    if args.check and total:
        print(f"import circles: {total}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
