#!/usr/bin/env python3
"""test_completions_shells.py SHELL - the completion script of SHELL (bash,
zsh or fish) in the real shell, loaded the way README's Install tells a user,
beside cargo's own completion for that shell when one is installed.

bash: /usr/share/bash-completion/bash_completion, then our script (the
~/.bashrc line); cargo's script sits where bash-completion's loader finds it
(XDG_DATA_HOME, as Debian's cargo package puts it in /usr/share), and the
function registered for `cargo` is called with COMP_WORDS/COMP_CWORD/
COMP_LINE/COMP_POINT set.  zsh: an interactive `zsh -f` in a zpty with
compinit over $fpath (our _cargo-burst, cargo's _cargo), a TAB typed, and
compadd wrapped to print what it adds.  fish: `complete -C` with our script
sourced from config.fish (README's line); fish's own cargo.fish is there.

Every check runs once more without our script as a control: the harness
must see the difference (else it could not fail).  cargo itself is a stub
on PATH (cargo's completions run `cargo --list`).  Skips the whole test only
when SHELL (or bash-completion, for bash) is not installed.
"""
import glob
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile

BIN = os.environ.get("CARGO_BURST")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from taplib import Tap, skip_all  # noqa: E402

TAP = Tap()
CWD = None  # an empty directory: file names are no match
ok = TAP.ok
skip = TAP.skip
BASH_COMPLETION = "/usr/share/bash-completion/bash_completion"


def run(args, env, timeout=60, **kw):
    """Run args in their own session; the whole group is killed on timeout."""
    p = subprocess.Popen(args, env=env, stdin=subprocess.DEVNULL, cwd=CWD,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, start_new_session=True, **kw)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        out, err = p.communicate()
        err += "\n(killed after %d s)" % timeout
    return p.returncode, out, err


def visible_verbs(env):
    """The verbs listed by `cargo-burst --help`."""
    _, out, _ = run([BIN, "--help"], env)
    verbs, inside = [], False
    for line in out.splitlines():
        if line.startswith("Commands:"):
            inside = True
            continue
        if inside:
            m = re.match(r"^    (\S+)\s", line)
            if not m:
                break
            verbs.append(m.group(1))
    return verbs


def k_flags(env):
    """The long flags of `cargo-burst help build` starting with --k."""
    _, out, _ = run([BIN, "help", "build"], env)
    return sorted(set(re.findall(r"(?<![\w-])(--k[\w-]*)", out)))


def first(paths):
    """The first existing file of paths (globs expanded), or None."""
    for pat in paths:
        for p in sorted(glob.glob(pat)):
            if os.path.isfile(p):
                return p
    return None


def sysroot(name):
    """name under rustc's sysroot and rustup's toolchains (globs)."""
    return [os.path.expanduser("~/.rustup/toolchains/*/" + name),
            "/root/.rustup/toolchains/*/" + name,
            "/usr/local/rustup/toolchains/*/" + name]


# ---- bash ------------------------------------------------------------------

BASH_DRIVER = r'''
. "$1" || exit 3
eval "${BURST_BASH_PRE-}"
[[ -n $2 ]] && { . "$2" || exit 3; }
shift 2
COMP_WORDS=("$@")
COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
COMP_LINE="${COMP_WORDS[*]}"
COMP_POINT=${#COMP_LINE}
# what readline does: the compspec of the command, else the default (-D)
# one, bash-completion's loader, and then the compspec it registered
if ! spec=$(complete -p "$1" 2>/dev/null); then
	_completion_loader "$1"
	spec=$(complete -p "$1" 2>/dev/null) || exit 0
fi
f=${spec#*-F }
f=${f%% *}
[[ $spec == *-F* ]] || exit 0
COMPREPLY=()
"$f" "$1" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
printf '<M>%s\n' "${COMPREPLY[@]}"
'''


class Bash:
    name = "bash"

    def __init__(self, work, env):
        self.driver = os.path.join(work, "driver.bash")
        with open(self.driver, "w") as f:
            f.write(BASH_DRIVER)
        self.cargo = first(["/usr/share/bash-completion/completions/cargo"]
                           + sysroot("etc/bash_completion.d/cargo"))
        if self.cargo:
            d = os.path.join(work, "data", "bash-completion", "completions")
            os.makedirs(d, exist_ok=True)
            shutil.copy(self.cargo, os.path.join(d, "cargo"))
        self.env = env

    def complete(self, script, line, pre=""):
        words = line.split(" ")
        env = dict(self.env, BURST_BASH_PRE=pre)
        rc, out, err = run(["bash", "--norc", "--noprofile", self.driver,
                            BASH_COMPLETION, script or ""] + words, env)
        got = [x[3:] for x in out.splitlines() if x.startswith("<M>")]
        return got, "rc %s\nstdout: %s\nstderr: %s" % (rc, out, err)


# ---- zsh -------------------------------------------------------------------

ZSH_SETUP = r'''
PROMPT= RPROMPT= PS2=
fpath=(${(s.:.)BURST_ZSH_FPATH} $fpath)
autoload -Uz compinit && compinit -u -D
zstyle ':completion:*' list-grouped false
zstyle ':completion:*' insert-tab false
zstyle ':completion:*' menu no
# print what is added (not the -O/-A/-D queries of the helpers)
compadd() {
	if [[ " ${@[1,(i)(-|--)]} " == *\ -[OAD]\ * ]]; then
		builtin compadd "$@"
		return
	fi
	local -a __m
	builtin compadd -O __m "$@"
	(( $#__m )) && print -rl -- "<M>"${^__m} >&2
	builtin compadd "$@"
}
_burst_test_end() { print -r -- "<<END>>" >&2; exit 0 }
comppostfuncs=(_burst_test_end)
bindkey '^I' complete-word
'''

ZSH_DRIVER = r'''
zmodload zsh/zpty || exit 3
zpty z "zsh -f -i 2>${(q)BURST_ZSH_OUT}"
zpty -w z "source ${(q)1}"
zpty -w -n z "$2"$'\t'
local out
zpty -r z out '*<<END>>*'
zpty -d z
'''


class Zsh:
    name = "zsh"

    def __init__(self, work, env):
        self.work = work
        self.setup = os.path.join(work, "setup.zsh")
        self.driver = os.path.join(work, "driver.zsh")
        with open(self.setup, "w") as f:
            f.write(ZSH_SETUP)
        with open(self.driver, "w") as f:
            f.write(ZSH_DRIVER)
        self.cargo = first(["/usr/share/zsh/vendor-completions/_cargo"]
                           + sysroot("share/zsh/site-functions/_cargo"))
        self.env = env
        self.n = 0

    def complete(self, script, line):
        self.n += 1
        d = os.path.join(self.work, "fpath%d" % self.n)
        os.makedirs(d)
        if script:
            shutil.copy(script, os.path.join(d, "_cargo-burst"))
        fpath = [d]
        if self.cargo:
            fpath.append(os.path.dirname(self.cargo))
        out_file = os.path.join(self.work, "zsh-out%d" % self.n)
        env = dict(self.env, BURST_ZSH_FPATH=":".join(fpath),
                   BURST_ZSH_OUT=out_file)
        rc, out, err = run(["zsh", "-f", self.driver, self.setup, line], env)
        text = ""
        if os.path.exists(out_file):
            with open(out_file, errors="replace") as f:
                text = f.read()
        got = [x[3:].rstrip("\r") for x in text.splitlines()
               if x.startswith("<M>")]
        return got, "rc %s\nzsh: %s\nstderr: %s" % (rc, text[-2000:], err)


# ---- fish ------------------------------------------------------------------

class Fish:
    name = "fish"

    def __init__(self, work, env):
        self.work = work
        self.env = env
        self.cargo = first(["/usr/share/fish/completions/cargo.fish"])
        self.n = 0

    def complete(self, script, line):
        self.n += 1
        cfg = os.path.join(self.work, "fcfg%d" % self.n)
        os.makedirs(os.path.join(cfg, "fish"))
        with open(os.path.join(cfg, "fish", "config.fish"), "w") as f:
            if script:
                f.write("source '%s'\n" % script)
        env = dict(self.env, XDG_CONFIG_HOME=cfg)
        rc, out, err = run(["fish", "-c", 'complete -C"$argv[1]"', line],
                           env)
        got = [x.split("\t")[0] for x in out.splitlines()]
        return got, "rc %s\nstdout: %s\nstderr: %s" % (rc, out, err)


# ---- the checks --------------------------------------------------------------

def check(sh, script, line, want, desc, exact=False):
    """want (a list) completes line with our script, not without it."""
    got, diag = sh.complete(script, line)
    if exact:
        good = sorted(got) == sorted(want)
    else:
        good = all(w in got for w in want)
    ok(good, "%s: `%s<TAB>` offers %s" % (sh.name, line, " ".join(want)),
       "got %s\n%s" % (got, diag))
    got, diag = sh.complete(None, line)
    ok(not all(w in got for w in want),
       "%s: control: without our script `%s<TAB>` does not" % (sh.name, line),
       "got %s\n%s" % (got, diag))


def main():
    shell = sys.argv[1] if len(sys.argv) > 1 else ""
    shells = {"bash": Bash, "zsh": Zsh, "fish": Fish}
    if shell not in shells:
        print("usage: test_completions_shells.py bash|zsh|fish",
              file=sys.stderr)
        return 2
    if not BIN or not os.access(BIN, os.X_OK):
        skip_all("CARGO_BURST is not set to the built binary")
    if not shutil.which(shell):
        skip_all("%s is not installed (Debian package %s)" % (shell, shell))
    if shell == "bash" and not os.path.isfile(BASH_COMPLETION):
        skip_all("bash-completion is not installed (%s)" % BASH_COMPLETION)
    global CWD
    work = tempfile.mkdtemp(prefix="burst-compshell-")
    try:
        CWD = os.path.join(work, "cwd")
        os.makedirs(CWD)
        bindir = os.path.join(work, "bin")
        os.makedirs(bindir)
        # a stand-in cargo: `cargo --list` names build and burst
        with open(os.path.join(bindir, "cargo"), "w") as f:
            f.write("#!/bin/sh\n[ \"$1\" = --list ] && "
                    "printf 'Installed Commands:\\n    build\\n    burst\\n'\n"
                    "exit 0\n")
        os.chmod(os.path.join(bindir, "cargo"), 0o755)
        env = dict(os.environ)
        env.update({"HOME": work, "PATH": bindir + ":" + env.get("PATH", ""),
                    "XDG_CONFIG_HOME": os.path.join(work, "cfg"),
                    "XDG_DATA_HOME": os.path.join(work, "data"),
                    "XDG_CACHE_HOME": os.path.join(work, "cache"),
                    "XDG_STATE_HOME": os.path.join(work, "state"),
                    "LC_ALL": "C.UTF-8", "TERM": "dumb"})
        for k in ("HCLOUD_TOKEN", "HCLOUD_TOKEN_FILE", "BURST_LOG",
                  "BURST_TRACE", "BASH_COMPLETION_USER_DIR",
                  "BASH_COMPLETION_COMPAT_DIR", "ZDOTDIR", "FPATH"):
            env.pop(k, None)
        env["BASH_COMPLETION_COMPAT_DIR"] = os.path.join(work, "compat")

        verbs = visible_verbs(env)
        ok(len(verbs) >= 5 and "build" in verbs,
           "`cargo-burst --help` lists the verbs, build among them", verbs)
        kflags = k_flags(env)
        ok(kflags, "`cargo-burst help build` has a --k... flag", kflags)
        rc, text, err = run([BIN, "completions", shell], env)
        ok(rc == 0 and text, "completions %s prints a script" % shell, err)
        script = os.path.join(work, "burst-completion." + shell)
        with open(script, "w") as f:
            f.write(text)

        sh = shells[shell](work, env)
        cargo_burst = shell != "zsh" or sh.cargo
        if cargo_burst:
            check(sh, script, "cargo burst ", verbs, exact=True,
                  desc="the verbs")
            check(sh, script, "cargo burst bu", ["build"], exact=True,
                  desc="build")
            check(sh, script, "cargo burst build --k", kflags,
                  desc="our flags")
        else:
            for _ in range(6):
                skip("%s: cargo burst" % shell,
                     "cargo's zsh completion (_cargo) is not installed: "
                     "zsh completes `cargo burst` only through it")
        check(sh, script, "cargo-burst build --k", kflags, desc="our flags")
        if not sh.cargo:
            for _ in range(5):
                skip("%s: cargo's own completion" % shell,
                     "cargo's %s completion is not installed" % shell)
        else:
            # cargo's own completion for the verb comes in as well
            want = ["--lib"] if shell == "fish" else ["--keep-going"]
            got, diag = sh.complete(script, "cargo-burst build --" +
                                    want[0][2:4])
            ok(all(w in got for w in want),
               "%s: `cargo-burst build %s<TAB>` offers cargo's %s"
               % (shell, want[0][:4], want[0]), "got %s\n%s" % (got, diag))
            got, diag = sh.complete(script, "cargo burst build --" +
                                    want[0][2:4])
            ok(all(w in got for w in want) and
               all(w in got for w in kflags if w.startswith(want[0][:4])),
               "%s: `cargo burst build %s<TAB>` offers cargo's %s and ours"
               % (shell, want[0][:4], want[0]), "got %s\n%s" % (got, diag))
            got, diag = sh.complete(script, "cargo burst ssh --" +
                                    want[0][2:4])
            ok(not any(w in got for w in want),
               "%s: not after ssh (its words are a remote command)" % shell,
               "got %s\n%s" % (got, diag))
            if shell == "bash":
                # what cargo's completion has nothing for: file names
                open(os.path.join(CWD, "afile.txt"), "w").close()
                got, diag = sh.complete(script, "cargo burst build af")
                os.unlink(os.path.join(CWD, "afile.txt"))
                ok(got == ["afile.txt"], "bash: `cargo burst build af<TAB>` "
                   "(nothing from cargo's) offers file names",
                   "got %s\n%s" % (got, diag))
            else:
                skip("%s: file names" % shell, "checked in bash")
            # cargo's own verbs still complete through cargo's completion
            got, diag = sh.complete(script, "cargo bu")
            ok("build" in got and "burst" in got,
               "%s: `cargo bu<TAB>` still offers cargo's build and burst"
               % shell, "got %s\n%s" % (got, diag))
        if shell == "bash":
            # a completion of cargo set up before ours stays cargo's
            pre = ("_other_cargo() { COMPREPLY=(from-other); }; "
                   "complete -F _other_cargo cargo")
            got, diag = sh.complete(script, "cargo b", pre)
            ok(got == ["from-other"],
               "bash: cargo's completion set up before ours still serves "
               "`cargo b<TAB>`", "got %s\n%s" % (got, diag))
            got, diag = sh.complete(script, "cargo burst bu", pre)
            ok(got == ["build"], "bash: ... and ours `cargo burst bu<TAB>`",
               "got %s\n%s" % (got, diag))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return TAP.done()


if __name__ == "__main__":
    sys.exit(main())
