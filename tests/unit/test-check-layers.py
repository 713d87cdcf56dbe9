#!/usr/bin/env python3
"""test-check-layers.py - tools/check-layers.py, the layer rule every build
checks: the tree as it is passes; each planted violation (an upward include
in a .c file and in a header, another module's private header, a circle,
a header of no layer, a stale allowlist entry, a file meson builds into the
wrong layer, a link exception no entry backs) fails it with the file:line
and the rule.  Everything happens in a temporary copy of src/, include/ and
tools/, never in the tree.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.environ.get("BURST_SOURCE_ROOT") or os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(HERE, ".."))
from taplib import Tap  # noqa: E402

TAP = Tap()
ok = TAP.ok


def fresh(tmp):
    """A new copy of the tree's C sources and the checker under tmp."""
    root = tempfile.mkdtemp(dir=tmp)
    for d in ("src", "include", "tools"):
        shutil.copytree(os.path.join(ROOT, d), os.path.join(root, d),
                        ignore=shutil.ignore_patterns("__pycache__"))
    return root


def check(root, *args):
    p = subprocess.run([sys.executable, os.path.join(root, "tools", "check-layers.py"),
                        "--root", root] + list(args),
                       capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout + p.stderr


def append(root, rel, text):
    with open(os.path.join(root, rel), "a", encoding="utf-8") as f:
        f.write(text)
    with open(os.path.join(root, rel), encoding="utf-8") as f:
        return sum(1 for _ in f)  # the line just written


def allow(root, entry, name="ALLOWLIST"):
    """Plant an entry into the copy's checker's list name."""
    p = os.path.join(root, "tools", "check-layers.py")
    with open(p, encoding="utf-8") as f:
        s = f.read()
    s2 = s.replace("\n%s = [\n" % name, "\n%s = [\n    %r,\n" % (name, entry), 1)
    with open(p, "w", encoding="utf-8") as f:
        f.write(s2)
    return s2 != s


def expect_fail(name, root, want, *args):
    rc, out = check(root, *args)
    ok(rc == 1, "%s: the check fails" % name, out)
    for w in want:
        ok(re.search(w, out) is not None, "%s: it says %r" % (name, w), out)


def plant(tmp, name, rel, inc, wants):
    """A fresh copy with `#include "inc"` appended to rel: the check fails,
    saying each of wants (a %d in one is the planted line's number)."""
    root = fresh(tmp)
    n = append(root, rel, '#include "%s"\n' % inc)
    expect_fail(name, root, [w % n if "%d" in w else w for w in wants])


def main():
    tmp = tempfile.mkdtemp(prefix="burst-layers-")
    try:
        run(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return TAP.done()


def run(tmp):
    root = fresh(tmp)
    rc, out = check(root)
    ok(rc == 0 and out == "", "the tree as it is passes", out)

    # an upward include in a .c file: util includes pipeline
    plant(tmp, "util includes pipeline.h", "src/util/strbuf.c", "burst/pipeline.h",
          [r"src/util/strbuf\.c:%d: upward include: \"burst/pipeline\.h\" is "
           r"layer pipeline", r"util <- base <- state <- provision"])
    # the pipeline takes a struct pipeline_job: no cli.h include is allowed
    # in it any more (the ALLOWLIST is empty)
    plant(tmp, "the pipeline includes cli.h", "src/pipeline/run.c", "burst/cli.h",
          [r"src/pipeline/run\.c:%d: upward include: \"burst/cli\.h\" is "
           r"layer cli \(module cli\), above this file's layer pipeline"])
    # one layer up is as wrong as five: base includes state
    plant(tmp, "hcloud includes state.h", "src/hcloud/json.c", "burst/state.h",
          [r"src/hcloud/json\.c:%d: upward include: \"burst/state\.h\" is "
           r"layer state \(module state\), above this file's layer base"])
    # in a header: a util header includes a base one
    plant(tmp, "strbuf.h includes ui.h", "include/burst/strbuf.h", "burst/ui.h",
          [r"include/burst/strbuf\.h:%d: upward include: \"burst/ui\.h\""])
    # another module's private header, even from a higher layer
    plant(tmp, "cmd includes state's private header", "src/cmd/status.c",
          "../state/state-int.h",
          [r"src/cmd/status\.c:%d: \"\.\./state/state-int\.h\" is private to "
           r"module state"])

    # a circle inside one layer: ui includes config, config includes ui
    root = fresh(tmp)
    append(root, "src/ui/ui.c", '#include "burst/config.h"\n')
    expect_fail("config <-> ui circle", root,
                [r"the modules' includes make a circle: (config -> ui -> config|"
                 r"ui -> config -> ui)"])

    # a header the checker cannot place, and its includer
    root = fresh(tmp)
    with open(os.path.join(root, "include", "burst", "planted.h"), "w") as f:
        f.write("/* planted */\n")
    n = append(root, "src/util/text.c", '#include "burst/planted.h"\n')
    expect_fail("a header of no layer", root,
                [r"include/burst/planted\.h:1: cannot place this file in a layer",
                 r"src/util/text\.c:%d: cannot place \"burst/planted\.h\"" % n])

    # the allowlist: a planted entry lets its include pass, and fails the
    # check once the include is gone (the list can only shrink)
    root = fresh(tmp)
    entry = ("src/util/strbuf.c", "burst/pipeline.h", "test: planted")
    ok(allow(root, entry), "an ALLOWLIST entry planted in the copy")
    append(root, "src/util/strbuf.c", '#include "burst/pipeline.h"\n')
    rc, out = check(root)
    ok(rc == 0, "an allowlisted upward include passes", out)
    rc, out = check(root, "--link-exception", "util:pipeline")
    ok(rc == 0, "a link exception the entry backs passes", out)
    expect_fail("a link exception no entry backs", root,
                [r"burst_link_exceptions lets layer util link layer cli, but no "
                 r"entry"], "--link-exception", "util:cli")
    root = fresh(tmp)
    allow(root, entry)
    expect_fail("a stale ALLOWLIST entry", root,
                [r"the ALLOWLIST entry \(src/util/strbuf\.c, \"burst/pipeline\.h\"\) "
                 r"no longer matches"])

    # a call through a lower header into a file of a higher layer: matches
    # while that file is still above, stale once it has moved down
    root = fresh(tmp)
    ok(allow(root, ("src/util/strbuf.c", "burst/strbuf.h", "src/ui/ui.c", "test"),
             "LINK_ALLOWLIST"), "a LINK_ALLOWLIST entry planted in the copy")
    rc, out = check(root, "--link-exception", "util:base")
    ok(rc == 0, "the link exception it backs passes", out)
    root = fresh(tmp)
    allow(root, ("src/util/strbuf.c", "burst/strbuf.h", "src/util/text.c", "test"),
          "LINK_ALLOWLIST")
    expect_fail("a stale LINK_ALLOWLIST entry", root,
                [r"the LINK_ALLOWLIST entry \(src/util/strbuf\.c, \"burst/strbuf\.h\", "
                 r"src/util/text\.c\) no longer matches"])

    # what meson builds into a layer must belong to it
    root = fresh(tmp)
    layers = []
    for name in ("util", "base", "state", "provision", "pipeline", "cli"):
        layers += ["--layer", name]
    util = layers.index("util") + 1
    layers[util:util] = [os.path.join(root, "src", "util", "strbuf.c")]
    rc, out = check(root, *layers)
    ok(rc == 0, "util's own file in the util library passes", out)
    layers[util:util] = [os.path.join(root, "src", "ui", "ui.c")]
    expect_fail("ui.c built into the util library", root,
                [r"src/ui/ui\.c is built into layer util but belongs to layer base"],
                *layers)
    expect_fail("meson's layers in another order", root,
                [r"its layers \['base', 'util'"],
                "--layer", "base", "--layer", "util")


if __name__ == "__main__":
    sys.exit(main())
