#!/usr/bin/env python3
"""Measures a crate's module graph: which of its modules (one per file)
name which others, the import cycles among them (strongly connected
components), how many files sit at the top of `src/`, and which modules
each cycle holds.

    python3 tools/modgraph.py tenant-runtime/src [--edges] [--max-top N]

An edge a -> b is any path `crate::b...` (in `use` or inline, braces
expanded) or `super::...` written in a's file, resolved to the longest
module that exists. Edges to the crate root (`lib.rs`: composition) are
left out. With --edges, each cycle's edges are listed with the names
that make them, to see which to cut. It exits 1 on a cycle, or with
--max-top N on more than N files at the top of the folder.
Comments and string literals are stripped first; `#[cfg(test)]` modules
count too (a test that needs a cycle still is one).
"""
import os
import re
import sys


def module_of(rel):
    parts = rel[:-3].split(os.sep)
    if parts[-1] in ("mod", "lib"):
        parts = parts[:-1]
    return tuple(parts)


def strip(src):
    src = re.sub(r"//[^\n]*", "", src)
    src = re.sub(r"/\*.*?\*/", "", src, flags=re.S)
    src = re.sub(r'r#*"(?:.|\n)*?"#*', '""', src)
    src = re.sub(r'"(?:\\.|[^"\\])*"', '""', src)
    return src


def paths_from(text, start):
    """Expands the path tree that starts at `start` (just after `crate::`)."""
    out = []

    def parse(i, prefix):
        # returns index after the tree
        m = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*|\{|\*)").match(text, i)
        if not m:
            out.append(prefix)
            return i
        tok = m.group(1)
        i = m.end()
        if tok == "{":
            while True:
                i = parse(i, prefix)
                m2 = re.compile(r"\s*(,|\})").match(text, i)
                if not m2:
                    return i
                i = m2.end()
                if m2.group(1) == "}":
                    return i
                if re.compile(r"\s*\}").match(text, i):
                    return re.compile(r"\s*\}").match(text, i).end()
        if tok == "*":
            out.append(prefix)
            return i
        m2 = re.compile(r"\s*::").match(text, i)
        if m2:
            return parse(m2.end(), prefix + (tok,))
        out.append(prefix + (tok,))
        return i

    parse(start, ())
    return out


def main():
    src_dir = sys.argv[1]
    files = {}
    for dirpath, _, names in os.walk(src_dir):
        for n in names:
            if n.endswith(".rs"):
                rel = os.path.relpath(os.path.join(dirpath, n), src_dir)
                files[module_of(rel)] = strip(open(os.path.join(dirpath, n)).read())
    mods = set(files)
    edges = {m: set() for m in mods}
    why = {}
    for m, text in files.items():
        for kw in re.finditer(r"\b(crate|super)::", text):
            base = () if kw.group(1) == "crate" else m[:-1]
            for p in paths_from(text, kw.end()):
                full = base + p
                target = ()
                for k in range(len(full), 0, -1):
                    if full[:k] in mods:
                        target = full[:k]
                        break
                if target != m and target != ():
                    edges[m].add(target)
                    why.setdefault((m, target), set()).add("::".join(full[len(target):]) or "*")
    # Tarjan's strongly connected components.
    index, low, stack, on, sccs = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
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
            sccs.append(comp)

    sys.setrecursionlimit(10000)
    for v in sorted(mods):
        if v not in index:
            visit(v)
    cycles = [sorted(c) for c in sccs if len(c) > 1]
    top = sorted(n for n in os.listdir(src_dir) if n.endswith(".rs"))
    print(f"modules: {len(mods)}; files at the top of src/: {len(top)} ({', '.join(top)})")
    print(f"import cycles (modules naming each other, lib.rs aside): {len(cycles)}")
    for c in cycles:
        print(f"  {len(c)} modules: " + ", ".join("::".join(x) for x in c))
        if "--edges" in sys.argv:
            for a in c:
                for b in sorted(edges[a] & set(c)):
                    print(f"    {'::'.join(a)} -> {'::'.join(b)}: {', '.join(sorted(why[(a, b)]))}")
    max_top = int(sys.argv[sys.argv.index("--max-top") + 1]) if "--max-top" in sys.argv else None
    if max_top is not None and len(top) > max_top:
        print(f"more than {max_top} files at the top of {src_dir}")
        return 1
    return 1 if cycles else 0


if __name__ == "__main__":
    sys.exit(main())
