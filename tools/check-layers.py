#!/usr/bin/env python3
"""check-layers.py - the layer rule of the C code (doc/architecture.md).

The modules are stacked in six layers, lowest first:

    util <- base (toml config hcloud proc ui) <- state (state remote)
         <- provision (provision reaper) <- pipeline (pipeline image)
         <- cli (cli cmd doc, src/main.c)

A file may #include the headers of its own layer and of the layers below,
never of a layer above; a module's private header (src/<module>/*.h) only
from that module; and the modules' includes make no circle.  Every src/
file and every include/burst/ header is placed in a layer by its module
(MODULES, HEADERS below); one that cannot be placed is an error too.

An upward include on its way out would stand in ALLOWLIST, with the change
that removes it (the list is empty: the rule holds everywhere); an entry
that no longer matches is an error, so the list can only shrink.  LINK_ALLOWLIST holds the
upward calls that go through a lower header into a file that still lives
in a higher layer (sha256.c until it moves to util).

src/meson.build builds one static library per layer and links each alone
with the layers below it (layer-link-<name>), so an upward call fails the
link; its burst_link_exceptions (given here as --link-exception FROM:TO)
must each be backed by an entry of the two allowlists.

Usage (src/meson.build runs it on every build; a failure fails ninja):
  check-layers.py [--root DIR] [--stamp FILE] [--depfile FILE]
                  [--layer NAME FILE...]... [--link-exception FROM:TO]...
--root: the source tree (default: this script's parent directory).
--layer: the files meson puts into that layer's library, in layer order;
each must belong to that layer.  Exit status 0 (the stamp written), or 1
with one "file:line: ..." line per violation on stderr.
"""

import os
import re
import sys

# Lowest first: (layer, its modules).  A module is a directory of src/.
LAYERS = [
    ("util", ["util"]),
    ("base", ["toml", "config", "hcloud", "proc", "ui"]),
    ("state", ["state", "remote"]),
    ("provision", ["provision", "reaper"]),
    ("pipeline", ["pipeline", "image"]),
    ("cli", ["cli", "cmd", "doc", "main"]),
]

# include/burst/<header> -> its module.  The headers every layer uses are
# util's.
HEADERS = {
    "banned.h": "util",
    "error.h": "util",
    "log.h": "util",
    "sha256.h": "util",
    "layout.h": "util",
    "strbuf.h": "util",
    "strvec.h": "util",
    "text.h": "util",
    "util.h": "util",
    "toml.h": "toml",
    "config.h": "config",
    "hcloud.h": "hcloud",
    "proc.h": "proc",
    "ui.h": "ui",
    "state.h": "state",
    "remote.h": "remote",
    "provision.h": "provision",
    "reaper.h": "reaper",
    "pipeline.h": "pipeline",
    "shard.h": "pipeline",
    "image.h": "image",
    "cli.h": "cli",
    "report.h": "cmd",
    "doc.h": "doc",
}

# Headers generated into the build tree -> their module.
GENERATED = {
    "burst-version.h": "util",
    "image/image-user-data.h": "image",
}

# The files directly in src/ -> their module.
TOP_FILES = {
    "main.c": "main",
    "layer-link.c": "util",
}

# Upward includes on their way out: (file, include, the change that
# removes it).  Empty since the pipeline took a struct pipeline_job instead
# of burst_ctx (issue 13 step 6); an entry that no longer matches fails the
# check.
ALLOWLIST = [
]

# Upward calls through a lower header into a file of a higher layer: (file,
# include, the file it reaches, the step that removes it).  An entry
# matches while the file has the include and the reached file is still
# there, in a layer above.
LINK_ALLOWLIST = [
]

INCLUDE = re.compile(r'^\s*#\s*include\s*"([^"]+)"')
RULE = ("a file may include its own layer's and lower layers' headers "
        "(util <- base <- state <- provision <- pipeline <- cli; "
        "doc/architecture.md)")


def layer_of_module():
    """module -> (layer index, layer name)."""
    out = {}
    for i, (name, modules) in enumerate(LAYERS):
        for m in modules:
            out[m] = (i, name)
    return out


def module_of_file(rel):
    """The module of a tree path (src/... or include/burst/...), or None."""
    parts = rel.split("/")
    if parts[0] == "src":
        if len(parts) == 2:
            return TOP_FILES.get(parts[1])
        return parts[1]
    if parts[:2] == ["include", "burst"] and len(parts) == 3:
        return HEADERS.get(parts[2])
    return None


def scan(root):
    """The tree's C files (relative paths, sorted)."""
    files = []
    for top in ("src", os.path.join("include", "burst")):
        for dirpath, dirnames, filenames in os.walk(os.path.join(root, top)):
            dirnames.sort()
            for name in sorted(filenames):
                if name.endswith((".c", ".h")):
                    files.append(os.path.relpath(os.path.join(dirpath, name), root))
    return [f.replace(os.sep, "/") for f in files]


def includes(root, rel):
    """(line number, quoted include) of a file."""
    out = []
    with open(os.path.join(root, rel), encoding="utf-8", errors="replace") as f:
        for n, line in enumerate(f, 1):
            m = INCLUDE.match(line)
            if m:
                out.append((n, m.group(1)))
    return out


def resolve(root, rel, inc):
    """(module of the included header, is it private to that module), or
    (None, False) when it cannot be placed."""
    here = os.path.dirname(rel)
    local = os.path.normpath(os.path.join(here, inc)).replace(os.sep, "/")
    if os.path.isfile(os.path.join(root, local)):
        parts = local.split("/")
        if parts[0] == "src" and len(parts) == 3:
            return parts[1], True
        return module_of_file(local), False
    if inc.startswith("burst/") and "/" not in inc[len("burst/"):]:
        if os.path.isfile(os.path.join(root, "include", inc)):
            return HEADERS.get(inc[len("burst/"):]), False
        return None, False
    return GENERATED.get(inc), False


class Checker:
    """One run of the rule over a tree; errors collects the violations."""

    def __init__(self, root):
        self.root = root
        self.errors = []
        self.layers = layer_of_module()
        self.files = scan(root)

    def error(self, msg):
        self.errors.append(msg)

    def layer(self, module):
        return self.layers.get(module)

    def check_placement(self):
        """Every header and src/ file belongs to a module of some layer."""
        for rel in self.files:
            mod = module_of_file(rel)
            if mod is None or self.layer(mod) is None:
                where = ("HEADERS" if rel.startswith("include/") else
                         "LAYERS (or TOP_FILES)")
                self.error("%s:1: cannot place this file in a layer; add its "
                           "module to %s in tools/check-layers.py" % (rel, where))

    def check_includes(self):
        """Upward and foreign-private includes; returns the module edges
        (from, to) -> "file:line" of one include making it, and the
        allowlist entries that matched."""
        edges, matched = {}, set()
        allowed = {(f, inc) for f, inc, _ in ALLOWLIST}
        for rel in self.files:
            mod = module_of_file(rel)
            if mod is None or self.layer(mod) is None:
                continue
            lay = self.layer(mod)
            for n, inc in includes(self.root, rel):
                to, private = resolve(self.root, rel, inc)
                if to is None or self.layer(to) is None:
                    self.error('%s:%d: cannot place "%s" in a layer; add it to '
                               "HEADERS or GENERATED in tools/check-layers.py"
                               % (rel, n, inc))
                    continue
                if private and to != mod:
                    self.error('%s:%d: "%s" is private to module %s; include '
                               "its public header instead" % (rel, n, inc, to))
                    continue
                tl = self.layer(to)
                if tl[0] > lay[0]:
                    if (rel, inc) in allowed:
                        matched.add((rel, inc))
                        continue
                    self.error('%s:%d: upward include: "%s" is layer %s (module '
                               "%s), above this file's layer %s (module %s); %s"
                               % (rel, n, inc, tl[1], to, lay[1], mod, RULE))
                    continue
                if to != mod:
                    edges.setdefault((mod, to), "%s:%d" % (rel, n))
        return edges, matched

    def check_allowlists(self, matched):
        """Entries that no longer match are errors (the lists only shrink)."""
        for f, inc, why in ALLOWLIST:
            if (f, inc) not in matched:
                self.error('tools/check-layers.py: the ALLOWLIST entry (%s, "%s") '
                           "no longer matches (%s): delete it, and any "
                           "burst_link_exceptions entry it backed in src/meson.build"
                           % (f, inc, why))
        for f, inc, target, why in LINK_ALLOWLIST:
            if not self.link_entry_matches(f, inc, target):
                self.error('tools/check-layers.py: the LINK_ALLOWLIST entry (%s, '
                           '"%s", %s) no longer matches (%s): delete it, and any '
                           "burst_link_exceptions entry it backed in src/meson.build"
                           % (f, inc, target, why))

    def link_entry_matches(self, f, inc, target):
        if f not in self.files or target not in self.files:
            return False
        if inc not in [i for _, i in includes(self.root, f)]:
            return False
        fl, tl = self.layer(module_of_file(f)), self.layer(module_of_file(target))
        return fl is not None and tl is not None and tl[0] > fl[0]

    def check_circles(self, edges):
        """No circle among the modules' includes (within a layer; across
        layers the rule above already forbids one)."""
        graph = {}
        for a, b in edges:
            graph.setdefault(a, []).append(b)
        state, stack = {}, []

        def visit(m):
            state[m] = 1
            stack.append(m)
            for nxt in sorted(graph.get(m, [])):
                if state.get(nxt) == 1:
                    cyc = stack[stack.index(nxt):] + [nxt]
                    where = ", ".join(edges[(x, y)] for x, y in zip(cyc, cyc[1:]))
                    self.error("%s: the modules' includes make a circle: %s; "
                               "move what both need to the lower one"
                               % (edges[(cyc[0], cyc[1])], " -> ".join(cyc))
                               + " (" + where + ")")
                elif state.get(nxt) is None:
                    visit(nxt)
            stack.pop()
            state[m] = 2

        for m in sorted(graph):
            if state.get(m) is None:
                visit(m)

    def check_meson_layers(self, meson_layers):
        """The files meson puts into each layer's library belong to it."""
        names = [n for n, _ in meson_layers]
        if names != [n for n, _ in LAYERS]:
            self.error("src/meson.build:1: its layers %s are not those of "
                       "tools/check-layers.py %s" % (names, [n for n, _ in LAYERS]))
            return
        for name, paths in meson_layers:
            for p in paths:
                rel = os.path.relpath(os.path.abspath(p), self.root).replace(os.sep, "/")
                if not rel.startswith("src/"):
                    continue  # generated in the build tree
                mod = module_of_file(rel)
                lay = self.layer(mod) if mod else None
                if lay is None or lay[1] != name:
                    self.error("src/meson.build:1: %s is built into layer %s but "
                               "belongs to layer %s (module %s)"
                               % (rel, name, lay[1] if lay else "none", mod))

    def check_link_exceptions(self, exceptions):
        """Each upward link of src/meson.build is backed by an allowlist entry."""
        backed = set()
        for f, inc, _ in ALLOWLIST:
            to, _private = resolve(self.root, f, inc) if f in self.files else (None, False)
            if to is not None and module_of_file(f) is not None:
                backed.add((self.layer(module_of_file(f))[1], self.layer(to)[1]))
        for f, _, target, _ in LINK_ALLOWLIST:
            fl, tl = self.layer(module_of_file(f)), self.layer(module_of_file(target))
            if fl and tl:
                backed.add((fl[1], tl[1]))
        for ex in exceptions:
            src, _, dst = ex.partition(":")
            if (src, dst) not in backed:
                self.error("src/meson.build:1: burst_link_exceptions lets layer %s "
                           "link layer %s, but no entry of the allowlists in "
                           "tools/check-layers.py is left to back it: delete it"
                           % (src, dst))


def parse_args(argv):
    opts = {"root": None, "stamp": None, "depfile": None, "layers": [],
            "exceptions": []}
    i = 0
    while i < len(argv):
        a = argv[i]
        if a in ("--root", "--stamp", "--depfile", "--link-exception") and i + 1 < len(argv):
            if a == "--link-exception":
                opts["exceptions"].append(argv[i + 1])
            else:
                opts[a[2:]] = argv[i + 1]
            i += 2
        elif a == "--layer" and i + 1 < len(argv):
            name, files, i = argv[i + 1], [], i + 2
            while i < len(argv) and not argv[i].startswith("--"):
                files.append(argv[i])
                i += 1
            opts["layers"].append((name, files))
        else:
            sys.exit("check-layers.py: unknown argument '%s' (see the usage at "
                     "the top of tools/check-layers.py)" % a)
    return opts


def main():
    opts = parse_args(sys.argv[1:])
    root = os.path.abspath(opts["root"] or
                           os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    c = Checker(root)
    c.check_placement()
    edges, matched = c.check_includes()
    c.check_allowlists(matched)
    c.check_circles(edges)
    if opts["layers"]:
        c.check_meson_layers(opts["layers"])
    c.check_link_exceptions(opts["exceptions"])
    if opts["depfile"] and opts["stamp"]:
        deps = [os.path.join(root, f) for f in c.files] + [os.path.abspath(__file__)]
        with open(opts["depfile"], "w", encoding="utf-8") as f:
            f.write("%s: %s\n" % (opts["stamp"].replace(" ", "\\ "),
                                  " ".join(d.replace(" ", "\\ ") for d in deps)))
    if c.errors:
        for e in c.errors:
            print(e, file=sys.stderr)
        print("check-layers.py: %d violation(s) of the layer rule" % len(c.errors),
              file=sys.stderr)
        if opts["stamp"] and os.path.exists(opts["stamp"]):
            os.unlink(opts["stamp"])
        return 1
    if opts["stamp"]:
        with open(opts["stamp"], "w", encoding="utf-8") as f:
            f.write("layers ok\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
