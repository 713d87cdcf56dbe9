/*
 * ssh.c - `cargo burst ssh [OPTIONS] [-- COMMAND...]`: a shell or a command
 * on the build server, in the project's synced source directory with the
 * environment the runs get (pipeline_shell() in pipeline.h).
 */
#include "burst/cli.h"
#include "burst/pipeline.h"

const struct burst_cmd cmd_ssh = {
	"ssh", "Open a shell (or run a command) on the build server",
	"cargo burst ssh [OPTIONS] [--] [COMMAND]...",
	"Options (before the command):\n"
	"        --no-sync              Do not sync the workspace first\n"
	"        --host USER@MACHINE[:PORT]   Use this ssh machine, not a Hetzner server\n"
	"        --keep-alive SECONDS   Idle time before the server is deleted\n"
	"        --no-reap              Leave no reaper: the server stays up\n"
	"    -y, --yes                  Do not ask before costly steps\n"
	"        --env VAR[=VALUE]      Forward VAR (with a value: set it)\n"
	"    -q, --quiet                Less output\n"
	"    -v, --verbose              More output\n"
	"    -h, --help                 Print help\n\n"
	"Without a command: an interactive shell (with a terminal).  One word is\n"
	"run as a shell command line (like ssh); several words are run as they\n"
	"are.  The server is provisioned when needed and the workspace synced\n"
	"first; the shell starts in the synced source directory with\n"
	"CARGO_TARGET_DIR, SCCACHE_DIR, PATH and the forwarded variables of a\n"
	"run.  +TOOLCHAIN sets RUSTUP_TOOLCHAIN.  The exit status is the remote\n"
	"command's.\n",
	CMD_RUN_VERB | CMD_RUN_SHELL, pipeline_shell,
};
