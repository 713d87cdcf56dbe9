#!/usr/bin/env python3
"""test_completions.py - the shell completions and the man page, through the
built binary ($CARGO_BURST) and as meson generated them ($BURST_BUILD_ROOT/doc).

What the outputs must contain is read from independent sources, never from a
list in this file: the verbs from `cargo-burst --help`, a verb's flags and
usage from `cargo-burst help <verb>`, the config keys from `config
--reference`, the exit codes from include/burst/error.h.  So a verb added to
the table without completion data fails here.

bash: the generated script is sourced in `bash --norc` and its function is
called with COMP_WORDS/COMP_CWORD set.  zsh and fish: `zsh -n` and `fish
--no-execute` when those shells are installed (skipped otherwise), plus
structure checks.  The man page: groff -ww without a warning, `man -l`.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

BIN = os.environ.get("CARGO_BURST")
BUILD = os.environ.get("BURST_BUILD_ROOT", "")
SOURCE = os.environ.get("BURST_SOURCE_ROOT", "")
USAGE = 64
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from taplib import Tap, skip_all  # noqa: E402

TAP = Tap()
ok = TAP.ok
skip = TAP.skip


def run(args, env=None, timeout=30, **kw):
    return subprocess.run(args, env=env or ENV, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=timeout,
                          **kw)


def burst(*args):
    return run([BIN] + list(args), cwd=WORK)


# ---- independent sources -------------------------------------------------

def visible_verbs():
    """The verbs listed by `cargo-burst --help` (the table, hidden ones not)."""
    p = burst("--help")
    verbs, inside = [], False
    for line in p.stdout.splitlines():
        if line.startswith("Commands:"):
            inside = True
            continue
        if inside:
            m = re.match(r"^    (\S+)\s", line)
            if not m:
                break
            verbs.append(m.group(1))
    return verbs


FLAG_LINE = re.compile(r"^\s{2,}(?:-(\w)(?:, |\s{2,}|$))?(--[\w][\w-]*)?")


def verb_help(verb):
    """(usage lines, long flags, short flags, value flags) from help VERB."""
    p = burst("help", verb)
    text = p.stdout
    usage = []
    m = re.search(r"^Usage: (.*(?:\n {7}.*)*)", text, re.M)
    if m:
        usage = [u.strip() for u in m.group(1).splitlines()]
    longs, shorts, valued = [], [], []
    for line in text.splitlines():
        fm = FLAG_LINE.match(line)
        if not fm or not (fm.group(1) or fm.group(2)):
            continue
        rest = line[fm.end():]
        if fm.group(1):
            shorts.append("-" + fm.group(1))
        if fm.group(2):
            longs.append(fm.group(2))
            if re.match(r"^[ =]\S", rest):
                valued.append(fm.group(2))
    return usage, longs, shorts, valued, text


def usage_words(verb, usage):
    """Literal sub-verbs right after the verb in the usage lines."""
    words = []
    for u in usage:
        toks = u.split()
        if verb in toks:
            i = toks.index(verb)
            if i + 1 < len(toks) and re.match(r"^[a-z][a-z0-9_-]*$", toks[i + 1]):
                words.append(toks[i + 1])
    return words


def config_keys():
    p = burst("config", "--reference")
    return re.findall(r"^\| `([^`]+)`", p.stdout, re.M)


def exit_codes():
    with open(os.path.join(SOURCE, "include", "burst", "error.h")) as f:
        text = f.read()
    return sorted(set(int(v) for v in
                      re.findall(r"BURST_EXIT_\w+\s*=\s*(\d+)", text)) - {0})


# ---- bash ------------------------------------------------------------------

def bash_complete(script, words, cword=None):
    """COMPREPLY of _cargo_burst for COMP_WORDS=words, COMP_CWORD=cword."""
    if cword is None:
        cword = len(words) - 1
    quoted = " ".join("'" + w.replace("'", "'\\''") + "'" for w in words)
    prog = ('source "$1" || exit 3\n'
            'COMP_WORDS=(%s)\nCOMP_CWORD=%d\nCOMP_LINE="${COMP_WORDS[*]}"\n'
            'COMP_POINT=${#COMP_LINE}\n'
            '_cargo_burst || exit 4\n'
            'printf "%%s\\n" "${COMPREPLY[@]}"\n' % (quoted, cword))
    p = run(["bash", "--norc", "--noprofile", "-c", prog, "bash", script],
            cwd=WORK)
    if p.returncode != 0:
        return None, p.stderr
    return [w for w in p.stdout.split("\n") if w], p.stderr


def test_bash(script, verbs, helps):
    if not shutil.which("bash"):
        skip("bash completion", "bash is not installed")
        return
    if shutil.which("shellcheck"):
        p = run(["shellcheck", "-s", "bash", script])
        ok(p.returncode == 0, "bash: shellcheck is clean", p.stdout + p.stderr)
    else:
        skip("bash: shellcheck", "shellcheck is not installed")
    p = run(["bash", "--norc", "--noprofile", "-n", script])
    ok(p.returncode == 0, "bash: bash -n", p.stderr)

    got, err = bash_complete(script, ["cargo-burst", ""])
    ok(got is not None and sorted(got) == sorted(verbs),
       "bash: `cargo-burst <TAB>` offers exactly the visible verbs",
       "got %r\nwant %r\n%s" % (got, verbs, err))
    ok(got is not None and not any(w.startswith("__") for w in got),
       "bash: no hidden verb offered", got)
    # issue 15: the new verb and the dry run (named here on purpose)
    ok(got is not None and "doctor" in got, "bash: doctor is offered", got)
    got, _ = bash_complete(script, ["cargo-burst", "doctor", "--"])
    ok(got is not None and "--json" in got, "bash: doctor --json is offered", got)
    # issue 15 part 3: `up` and its options (named here on purpose)
    got, _ = bash_complete(script, ["cargo-burst", "u"])
    ok(got == ["up"], "bash: up is offered", got)
    got, _ = bash_complete(script, ["cargo-burst", "up", "--"])
    ok(got is not None and {"--wait", "--keep-alive", "--no-reap"} <= set(got),
       "bash: up --wait, --keep-alive, --no-reap are offered", got)
    for verb in ("build", "test", "check", "clippy", "bench", "run"):
        got, _ = bash_complete(script, ["cargo-burst", verb, "--dr"])
        ok(got == ["--dry-run"], "bash: %s --dry-run is offered after the verb" % verb, got)
    got, _ = bash_complete(script, ["cargo-burst", "--dr"])
    ok(got == ["--dry-run"], "bash: --dry-run is offered before the verb", got)
    # issue 15 part 1: --arch and its values, on run verbs and image build
    for words in (["cargo-burst", "build", "--arch", ""], ["cargo-burst", "--arch", ""],
                  ["cargo-burst", "image", "build", "--arch", ""]):
        got, _ = bash_complete(script, words)
        ok(got is not None and sorted(got) == ["arm64", "x86"],
           "bash: `%s<TAB>` offers x86 arm64" % " ".join(words), got)
    got, _ = bash_complete(script, ["cargo-burst", "image", "build", "--ar"])
    ok(got == ["--arch"], "bash: image build --arch is offered", got)
    got, _ = bash_complete(script, ["cargo", "burst", ""])
    ok(got is not None and sorted(got) == sorted(verbs),
       "bash: `cargo burst <TAB>` (burst skipped) offers the verbs", got)
    got, _ = bash_complete(script, ["cargo-burst", "-q", "--color", "never",
                                    "+nightly", ""])
    ok(got is not None and sorted(got) == sorted(verbs),
       "bash: verbs after global flags, --color's value and +TOOLCHAIN", got)
    first = verbs[0]
    got, _ = bash_complete(script, ["cargo-burst", first[:2]])
    want = sorted(v for v in verbs if v.startswith(first[:2]))
    ok(got is not None and sorted(got) == want,
       "bash: `cargo-burst %s<TAB>` offers %s" % (first[:2], want), got)
    got, _ = bash_complete(script, ["cargo-burst", "--"])
    ok(got is not None and {"--quiet", "--verbose", "--color", "--help",
                            "--version"} <= set(got),
       "bash: global long flags", got)
    got, _ = bash_complete(script, ["cargo-burst", "--color", ""])
    ok(got is not None and sorted(got) == ["always", "auto", "never"],
       "bash: `--color <TAB>` offers auto always never", got)
    got, _ = bash_complete(script, ["cargo-burst", "--color", "=", "a"])
    ok(got is not None and sorted(got) == ["always", "auto"],
       "bash: `--color=a<TAB>` (split at =) offers always auto", got)
    got, _ = bash_complete(script, ["cargo-burst", "+nig"])
    ok(got is not None and "+nightly" in got,
       "bash: `+nig<TAB>` offers +nightly", got)

    for verb in verbs:
        usage, longs, shorts, valued, text = helps[verb]
        got, err = bash_complete(script, ["cargo-burst", verb, "--"])
        missing = [f for f in longs if got is None or f not in got]
        ok(got is not None and not missing,
           "bash: `cargo-burst %s --<TAB>` offers its %d long flags"
           % (verb, len(longs)), "missing %r\ngot %r\n%s" % (missing, got, err))
        if "Everything after the verb is cargo's" in text:
            # a run verb: after it, -x is cargo's but for -q, -v, -h
            shorts = [f for f in shorts if f in ("-q", "-v", "-h")]
        if shorts:
            got, _ = bash_complete(script, ["cargo-burst", verb, "-"])
            missing = [f for f in shorts if got is None or f not in got]
            ok(got is not None and not missing,
               "bash: `cargo-burst %s -<TAB>` offers %s" % (verb, shorts),
               "missing %r, got %r" % (missing, got))
        got, _ = bash_complete(script, ["cargo-burst", verb, "--__nope"])
        ok(got == [], "bash: %s: an unknown flag prefix completes nothing"
           % verb, got)
        words = usage_words(verb, usage)
        if words:
            got, _ = bash_complete(script, ["cargo-burst", verb, ""])
            ok(got is not None and set(words) <= set(got),
               "bash: `cargo-burst %s <TAB>` offers %s" % (verb, words), got)
        if re.search(r"<[a-z]+(\|[a-z]+)+>", " ".join(usage)):
            alts = re.search(r"<([a-z]+(?:\|[a-z]+)+)>",
                             " ".join(usage)).group(1).split("|")
            got, _ = bash_complete(script, ["cargo-burst", verb, ""])
            ok(got is not None and sorted(got) == sorted(alts),
               "bash: `cargo-burst %s <TAB>` offers %s" % (verb, alts), got)
        if re.search(r"\b%s \[COMMAND\]$" % re.escape(verb), usage[0] if usage else ""):
            got, _ = bash_complete(script, ["cargo-burst", verb, ""])
            ok(got is not None and sorted(got) == sorted(verbs),
               "bash: `cargo-burst %s <TAB>` offers the verbs" % verb, got)

    # a run verb: its flags before cargo's arguments, none after
    run_verbs = [v for v in verbs if "[CARGO ARGS]" in " ".join(helps[v][0])]
    ok(run_verbs, "the help texts show run verbs (%s)" % run_verbs)
    for verb in run_verbs[:1]:
        longs = helps[verb][1]
        got, _ = bash_complete(script, ["cargo-burst", verb, "--no-reap", "--"])
        ok(got is not None and "--keep-alive" in got and "--env" in got,
           "bash: %s: tool flags after a tool flag" % verb, got)
        got, _ = bash_complete(script, ["cargo-burst", verb, "--keep-alive",
                                        "30", "--"])
        ok(got is not None and "--no-reap" in got,
           "bash: %s: the value of --keep-alive is skipped" % verb, got)
        got, _ = bash_complete(script, ["cargo-burst", verb, "mycrate", "--"])
        ok(got is not None and "--keep-alive" in got and "--no-reap" in got,
           "bash: %s: tool flags among cargo's arguments, up to a --" % verb, got)
        got, _ = bash_complete(script, ["cargo-burst", verb, "-"])
        ok(got is not None and "-y" not in got,
           "bash: %s: no short tool flag after the verb (cargo's)" % verb, got)
        got, _ = bash_complete(script, ["cargo-burst", "--"])
        ok(got is not None and set(longs) <= set(got),
           "bash: %s: its flags are offered before the verb" % verb, got)
        got, _ = bash_complete(script, ["cargo-burst", "-"])
        ok(got is not None and "-y" in got,
           "bash: -y is offered before the verb", got)
        got, _ = bash_complete(script, ["cargo-burst", "--keep-alive", "30",
                                        verb[:2]])
        ok(got is not None and verb in got,
           "bash: the value of --keep-alive before the verb is skipped", got)
        got, _ = bash_complete(script, ["cargo-burst", verb, "--", "--"])
        ok(got is not None and "--no-reap" not in got,
           "bash: %s: no tool flags after --" % verb, got)
        ENV["CB_TEST_VARIABLE"] = "1"
        got, _ = bash_complete(script, ["cargo-burst", verb, "--env",
                                        "CB_TEST_VAR"])
        ok(got == ["CB_TEST_VARIABLE"],
           "bash: %s --env <TAB> completes environment names" % verb, got)

    # the file names fallback and the `cargo` hand-over form
    open(os.path.join(WORK, "afile.txt"), "w").close()
    if run_verbs:
        got, _ = bash_complete(script, ["cargo-burst", run_verbs[0], "--",
                                        "afi"])
        ok(got == ["afile.txt"], "bash: file names after --", got)


# ---- zsh and fish ----------------------------------------------------------

def test_zsh(script, verbs, helps):
    text = open(script).read()
    ok(text.startswith("#compdef cargo-burst\n"), "zsh: #compdef cargo-burst")
    ok("_cargo-burst()" in text, "zsh: defines _cargo-burst (cargo's _cargo "
       "calls it for `cargo burst`)")
    for verb in verbs:
        arm = re.search(r"^\t\(%s\)\n(.*?)^\t\t;;" % re.escape(verb), text,
                        re.M | re.S)
        described = re.search(r"^\t\t'%s:" % re.escape(verb), text, re.M)
        flags = helps[verb][1]
        missing = [f for f in flags
                   if not arm or ("'" + f + "[") not in arm.group(1)
                   and ("'" + f + "=[") not in arm.group(1)
                   and ("'*" + f) not in arm.group(1)]
        ok(arm and described and not missing,
           "zsh: %s described and its arm has its flags" % verb,
           "missing %r" % missing)
    ok("__man" not in text, "zsh: no hidden verb")
    zsh = shutil.which("zsh")
    if zsh:
        p = run([zsh, "-n", script])
        ok(p.returncode == 0 and not p.stderr, "zsh -n accepts the script",
           p.stderr)
    else:
        skip("zsh -n", "zsh is not installed")


def test_fish(script, verbs, helps):
    text = open(script).read()
    for verb in verbs:
        offered = re.search(r"^complete -c cargo-burst -n '__cargo_burst_needs_verb'"
                            r" -f -a '%s' -d " % re.escape(verb), text, re.M)
        cargo_form = re.search(r"^complete -c cargo -n '__cargo_burst_needs_verb'"
                               r" -f -a '%s' " % re.escape(verb), text, re.M)
        flags = helps[verb][1]
        lines = re.findall(r"^complete -c cargo-burst -n '__cargo_burst_using "
                           r"%s[;'].*$" % re.escape(verb), text, re.M)
        missing = [f for f in flags
                   if not any(" -l %s " % f[2:] in l + " " for l in lines)]
        ok(offered and cargo_form and not missing,
           "fish: %s offered (cargo-burst and cargo burst) with its flags"
           % verb, "missing %r" % missing)
    ok("__man" not in text, "fish: no hidden verb")
    fish = shutil.which("fish")
    if fish:
        p = run([fish, "--no-execute", script])
        ok(p.returncode == 0 and not p.stderr,
           "fish --no-execute accepts the script", p.stderr)
    else:
        skip("fish --no-execute", "fish is not installed")


# ---- the man page --------------------------------------------------------

def test_man(page, verbs, helps):
    text = open(page).read()
    sections = re.findall(r"^\.SH (.*)$", text, re.M)
    want = ["NAME", "SYNOPSIS", "DESCRIPTION", "COMMANDS", "OPTIONS",
            "CONFIGURATION", "ENVIRONMENT", "FILES", "EXIT STATUS", "SEE ALSO"]
    ok(sections == want, "man: sections %s" % want, sections)
    subsections = re.findall(r"^\.SS (.*)$", text, re.M)
    ok([s.replace("\\-", "-") for s in subsections] == verbs,
       "man: one COMMANDS subsection per visible verb, in table order",
       "got %r\nwant %r" % (subsections, verbs))
    for line in text.splitlines():
        if line.startswith(".") and not re.match(
                r"^\.(\\\"|TH|SH|SS|PP|TP|RS|RE|nf|fi|br|nh|ad)( |$)", line):
            ok(False, "man: unexpected request %r" % line)
            break
    else:
        ok(True, "man: only known man(7) requests")

    groff = shutil.which("groff")
    rendered = None
    if groff:
        p = run([groff, "-man", "-Tutf8", "-ww", "-z", page])
        ok(p.returncode == 0 and not p.stderr.strip(),
           "man: groff -man -ww renders without a warning", p.stderr)
        p = run([groff, "-man", "-Tascii", "-P-c", "-P-b", "-P-u", page],
                env=dict(ENV, MANWIDTH="100"))
        ok(p.returncode == 0, "man: groff -Tascii renders", p.stderr)
        rendered = p.stdout
    else:
        skip("man: groff", "groff is not installed")
    if shutil.which("man"):
        p = run(["man", "-l", page], env=dict(ENV, MANPAGER="cat",
                                               PAGER="cat", MANWIDTH="100"))
        ok(p.returncode == 0 and "COMMANDS" in p.stdout,
           "man: man -l renders", p.stderr)
        rendered = rendered or p.stdout
    else:
        skip("man: man -l", "man is not installed")
    if rendered is None:
        rendered = re.sub(r"\\f[BIRP]", "", text).replace("\\-", "-")
    flat = re.sub(r"\s+", " ", rendered)

    for verb in verbs:
        usage, longs, shorts, valued, _ = helps[verb]
        missing = [f for f in longs + shorts if f not in flat]
        missing += [u for u in usage if re.sub(r"\s+", " ", u) not in flat]
        ok(not missing, "man: %s: usage and every flag rendered" % verb,
           "missing %r" % missing)
    ok("--arch arm64" in flat and 'arch = "arm64"' in flat and "image build --arch arm64" in flat,
       "man: DESCRIPTION says how to build for arm64 (issue 15)")
    keys = config_keys()
    missing = [k for k in keys if k not in flat]
    ok(keys and not missing, "man: CONFIGURATION has the %d keys of config "
       "--reference" % len(keys), "missing %r" % missing)
    env_section = rendered.split("ENVIRONMENT", 1)[-1].split("FILES", 1)[0]
    names = ["HCLOUD_TOKEN", "HCLOUD_TOKEN_FILE", "HCLOUD_ENDPOINT",
             "BURST_TRACE", "BURST_LOG", "CARGO_BURST_SSH", "CARGO_BURST_RSYNC",
             "CARGO_TERM_COLOR", "NO_COLOR", "XDG_CONFIG_HOME", "XDG_STATE_HOME"]
    missing = [n for n in names if n not in env_section]
    ok(not missing, "man: ENVIRONMENT documents %s" % ", ".join(names),
       "missing %r" % missing)
    # names the code reads but the page does not mention (a hint, not a failure)
    src = os.path.join(SOURCE, "src")
    read = set()
    for root, _, files in os.walk(src):
        for fn in files:
            if fn.endswith(".c"):
                with open(os.path.join(root, fn)) as f:
                    read |= set(re.findall(r'getenv\("([A-Z_]+)"\)', f.read()))
    undocumented = sorted(n for n in read if n not in flat)
    if undocumented:
        print("# read by the code, not in the man page: %s"
              % " ".join(undocumented))
    codes = exit_codes()
    exit_section = rendered.split("EXIT STATUS", 1)[-1].split("SEE ALSO", 1)[0]
    missing = [c for c in codes if not re.search(r"\b%d\b" % c, exit_section)]
    ok(codes and not missing, "man: EXIT STATUS lists the codes of error.h %s"
       % codes, "missing %r" % missing)
    ok("__man" not in flat and "__reap" not in flat, "man: no hidden verb")


def main():
    global ENV, WORK
    if not BIN or not os.access(BIN, os.X_OK):
        skip_all("CARGO_BURST is not set to the built binary")
    WORK = tempfile.mkdtemp(prefix="burst-completions-")
    try:
        ENV = dict(os.environ)
        ENV.update({"HOME": WORK, "XDG_CONFIG_HOME": os.path.join(WORK, "cfg"),
                    "XDG_STATE_HOME": os.path.join(WORK, "state"),
                    "LC_ALL": "C.UTF-8", "TERM": "dumb"})
        for k in ("HCLOUD_TOKEN", "HCLOUD_TOKEN_FILE", "BURST_LOG",
                  "BURST_TRACE"):
            ENV.pop(k, None)
        verbs = visible_verbs()
        ok(len(verbs) >= 5 and "completions" in verbs,
           "`cargo-burst --help` lists the verbs, completions among them",
           verbs)
        helps = {v: verb_help(v) for v in verbs}
        for v in verbs:
            ok(helps[v][0], "help %s shows a usage line" % v, helps[v][4])

        # the verb: one shell each, a usage error otherwise
        outputs = {}
        for shell in ("bash", "zsh", "fish"):
            p = burst("completions", shell)
            ok(p.returncode == 0 and p.stdout and not p.stderr,
               "completions %s: exit 0, a script, nothing on stderr" % shell,
               p.stderr)
            outputs[shell] = p.stdout
        for args, name in ((["completions"], "no shell"),
                           (["completions", "tcsh"], "unknown shell"),
                           (["completions", "bash", "zsh"], "two shells")):
            p = burst(*args)
            ok(p.returncode == USAGE and "error:" in p.stderr and not p.stdout,
               "completions, %s: usage error %d" % (name, USAGE),
               "rc=%d\n%s" % (p.returncode, p.stderr))
        p = burst("completions", "--help")
        ok(p.returncode == 0 and "bash" in p.stdout and "fish" in p.stdout,
           "completions --help", p.stderr)
        p = burst("__man")
        ok(p.returncode == 0 and p.stdout.startswith(".\\\""),
           "__man prints the page", p.stderr)
        outputs["man"] = p.stdout

        # meson's generated files are what the binary prints now
        built = {"bash": "cargo-burst", "zsh": "_cargo-burst",
                 "fish": "cargo-burst.fish", "man": "cargo-burst.1"}
        paths = {}
        for kind, fn in built.items():
            path = os.path.join(BUILD, "doc", fn)
            paths[kind] = path
            same = os.path.exists(path) and open(path).read() == outputs[kind]
            ok(same, "doc/%s built by meson matches the binary's output" % fn)
            if not same:
                paths[kind] = os.path.join(WORK, fn)
                with open(paths[kind], "w") as f:
                    f.write(outputs[kind])

        test_bash(paths["bash"], verbs, helps)
        test_zsh(paths["zsh"], verbs, helps)
        test_fish(paths["fish"], verbs, helps)
        test_man(paths["man"], verbs, helps)
    finally:
        shutil.rmtree(WORK, ignore_errors=True)
    return TAP.done()


if __name__ == "__main__":
    sys.exit(main())
