#!/usr/bin/env python3
"""run-all.py - run every benchmark and write the latest figures into BENCHMARKS.md.

    python3 tests/bench/run-all.py [BUILD_DIR]      (default: build)
    python3 tests/bench/run-all.py --no-run [BUILD_DIR]

Runs `meson test -C BUILD_DIR --benchmark --suite bench` (needs root for the
simulator's real machines; the benchmarks that cannot run are skipped), then
reads BUILD_DIR/bench-results/*.json and the library-level audit benchmark's
output, and replaces the table between the markers in BENCHMARKS.md (at the
top of the source tree) with the figures and the machine they ran on.
With --no-run it only rewrites the table from the results already there.
Exit status: that of `meson test` (0 unless a figure could not be measured).
"""

import glob
import json
import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)

BEGIN = "<!-- bench:begin (written by tests/bench/run-all.py) -->"
END = "<!-- bench:end -->"
ORDER = ["warm", "cold", "sync", "sync-index", "state"]
LATEST = [0.0]  # when the newest result was written
TITLES = {"1": "1. Warm overhead", "2": "2. Round trips", "3": "3. Cold critical path",
          "4": "4. Sync (20,000 files, 200 MB)",
          "4b": "4b. Warm sync with the local index (100,000 files, 200 MB)",
          "5": "5. State at scale", "6": "6. Footprint"}


def machine():
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {"nproc": os.cpu_count(), "cpu": cpu, "kernel": os.uname().release,
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}


def git_rev():
    try:
        r = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                           capture_output=True, text=True, timeout=10)
        rev = r.stdout.strip() or "unknown"
        d = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True, timeout=10)
        return rev + ("+changes" if d.stdout.strip() else "")
    except Exception:
        return "unknown"


def measured_rev(build):
    """The commit the results were measured at (recorded by the run)."""
    try:
        with open(os.path.join(build, "bench-results", "commit")) as f:
            return f.read().strip() or "unknown"
    except OSError:
        return "unknown"


def fmt(v):
    if v is None:
        return "n/a"
    if isinstance(v, float):
        if abs(v) >= 100:
            return "%.0f" % v
        if abs(v) >= 10:
            return "%.1f" % v
        return "%.3g" % v
    return str(v)


def audit_1m_rows(build):
    """Figures of the library-level benchmark state-audit-1m from meson's log."""
    rows = []
    for name in ("benchmarklog.json", "testlog.json"):
        path = os.path.join(build, "meson-logs", name)
        if not os.path.exists(path):
            continue
        with open(path) as f:
            for line in f:
                try:
                    t = json.loads(line)
                except ValueError:
                    continue
                if t.get("name") != "state-audit-1m":
                    continue
                m = re.search(r"audit over (\d+) runs: ([0-9.]+) s wall", t.get("stdout", ""))
                if m:
                    v = float(m.group(2))
                    rows = [{"item": "5", "name": "state_audit_query over %s runs (library, in-process)"
                             % m.group(1), "value": v, "unit": "s", "target": "< 2",
                             "met": v < 2, "detail": "tests/state/test-state-audit-1m.c"}]
        if rows:
            break
    return rows


def collect(build):
    rows, runs = [], []
    for bench in ORDER:
        path = os.path.join(build, "bench-results", "%s.json" % bench)
        if not os.path.exists(path):
            runs.append("%s: no results (skipped or not run)" % bench)
            continue
        with open(path) as f:
            data = json.load(f)
        runs.append("%s: %.0f s" % (bench, data.get("seconds", 0)))
        LATEST[0] = max(LATEST[0], data.get("finished", 0))
        rows += data["rows"]
    rows += audit_1m_rows(build)
    return rows, runs


def value_text(r):
    if r.get("unit") == "x" and r.get("value") is not None:
        return "%.2f x" % r["value"]
    return ("%s %s" % (fmt(r.get("value")), r.get("unit") or "")).strip()


def met_text(r):
    return "" if r.get("met") is None else ("yes" if r["met"] else "**no**")


def header(build, runs):
    m = machine()
    if LATEST[0]:
        m["date"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(LATEST[0]))
    return ["Latest run: %s, commit %s, on %d cores (%s), Linux %s; build type of `%s`: %s." % (
        m["date"], measured_rev(build), m["nproc"], m["cpu"], m["kernel"], os.path.basename(build),
        buildtype(build)), "Benchmark wall times: %s." % "; ".join(runs), ""]


def summary(build):
    """The short table for README.md's Performance section: the figures with a target."""
    rows, runs = collect(build)
    out = [BEGIN, ""] + header(build, runs)[:1] + ["",
           "| # | figure | value | target | met |", "|---|---|---|---|---|"]
    for r in sorted(rows, key=lambda r: str(r.get("item"))):
        if r.get("target") is None:
            continue
        out.append("| %s | %s | %s | %s | %s |" % (r["item"], r["name"].replace("|", "/"),
                                                   value_text(r), r["target"], met_text(r)))
    out += ["", END]
    return "\n".join(out)


def table(build):
    rows, runs = collect(build)
    out = [BEGIN, ""] + header(build, runs)
    for item in sorted(TITLES):
        its = [r for r in rows if str(r.get("item")) == item]
        if not its:
            continue
        out += ["**%s**" % TITLES[item], "",
                "| figure | value | target | met |", "|---|---|---|---|"]
        for r in its:
            name = r["name"] + (" (%s)" % r["detail"] if r.get("detail") else "")
            out.append("| %s | %s | %s | %s |" % (name.replace("|", "/"), value_text(r),
                                                  r.get("target") or "", met_text(r)))
        out.append("")
    out.append(END)
    return "\n".join(out)


def buildtype(build):
    try:
        with open(os.path.join(build, "meson-info", "intro-buildoptions.json")) as f:
            for o in json.load(f):
                if o.get("name") == "buildtype":
                    return o.get("value")
    except (OSError, ValueError):
        pass
    return "unknown"


def write_md(md, body, title):
    if os.path.exists(md):
        with open(md) as f:
            text = f.read()
    else:
        text = "# %s\n\n%s\n%s\n" % (title, BEGIN, END)
    if BEGIN in text and END in text:
        text = text[:text.index(BEGIN)] + body + text[text.index(END) + len(END):]
    else:
        text = text.rstrip("\n") + "\n\n" + body + "\n"
    tmp = md + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.rename(tmp, md)
    print("run-all: wrote %s" % md, flush=True)


def main(argv):
    run = "--no-run" not in argv
    args = [a for a in argv if a != "--no-run"]
    build = os.path.abspath(args[0] if args else os.path.join(ROOT, "build"))
    if not os.path.isdir(build):
        print("run-all: %s is not a meson build directory" % build, file=sys.stderr)
        return 2
    code = 0
    if run:
        for old in glob.glob(os.path.join(build, "bench-results", "*.json")):
            os.unlink(old)
        os.makedirs(os.path.join(build, "bench-results"), exist_ok=True)
        with open(os.path.join(build, "bench-results", "commit"), "w") as f:
            f.write(git_rev() + "\n")
        code = subprocess.call(["meson", "test", "-C", build, "--benchmark", "--suite", "bench",
                                "--print-errorlogs"])
    rows, _ = collect(build)
    if not rows:
        print("run-all: no benchmark results in %s/bench-results: tables left as they are"
              % build, file=sys.stderr)
        return code or 1
    write_md(os.path.join(ROOT, "BENCHMARKS.md"), table(build), "Benchmarks")
    write_md(os.path.join(ROOT, "README.md"), summary(build), "cargo-burst")
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
