/*
 * completions.c - `cargo burst completions <bash|zsh|fish>` prints a shell
 * completion script, and the hidden `cargo-burst __man` prints the manual
 * page; both are generated from the command table (doc.h), and
 * doc/meson.build runs them at build time to install the results.
 */
#include <stdio.h>
#include <string.h>

#include "burst/cli.h"
#include "burst/doc.h"

static const struct burst_option completions_options[] = {
	OPT_HELP, OPT_END,
};

static const char completions_help[] =
	"Prints the completion script of a shell to stdout.  `meson install`\n"
	"puts them where the shells look for them:\n"
	"share/bash-completion/completions/cargo-burst,\n"
	"share/zsh/site-functions/_cargo-burst and\n"
	"share/fish/vendor_completions.d/cargo-burst.fish.  Or load one from the\n"
	"shell's startup file:\n"
	"    bash (~/.bashrc):   source <(cargo burst completions bash)\n"
	"    zsh (~/.zshrc, after compinit):   source <(cargo burst completions zsh)\n"
	"    fish (config.fish): cargo burst completions fish | source\n\n"
	"`cargo-burst <TAB>` completes from the installed files.  `cargo burst\n"
	"<TAB>` completes in zsh through cargo's _cargo; in bash and fish once the\n"
	"script is sourced from the startup file as above (the bash script wraps\n"
	"cargo's completion, which bash-completion 2.11 ends in file names).\n"
	"After a run verb other than ssh, cargo's own completion (when installed)\n"
	"adds cargo's options for that verb.\n";

static int write_out(const struct strbuf *sb, struct burst_error *err)
{
	if (fwrite(sb->buf, 1, sb->len, stdout) != sb->len ||
	    fflush(stdout) != 0)
		return burst_error_set(err, BURST_EXIT_INTERNAL,
				       "cannot write to stdout");
	return 0;
}

static int completions_exec(struct burst_ctx *ctx)
{
	struct strbuf out = STRBUF_INIT;
	int ret = -1;

	const struct strvec *args = &ctx->args.positional;

	if (args->nr != 1) {
		if (args->nr)
			burst_error_set(&ctx->err, BURST_EXIT_USAGE,
					"completions takes one shell, got %zu "
					"arguments", args->nr);
		else
			burst_error_set(&ctx->err, BURST_EXIT_USAGE,
					"completions needs a shell");
		burst_error_hint(&ctx->err, "usage: cargo burst completions "
				 "<bash|zsh|fish>");
		return -1;
	}
	if (doc_completion(args->v[0], &out, &ctx->err) < 0)
		goto out;
	ret = write_out(&out, &ctx->err) < 0 ? -1 : 0;
out:
	strbuf_release(&out);
	return ret;
}

const struct burst_cmd cmd_completions = {
	"completions", "Print a shell completion script (bash, zsh, fish)",
	"cargo burst completions <bash|zsh|fish>", completions_help, 0,
	completions_exec, completions_options,
};

static int man_exec(struct burst_ctx *ctx)
{
	struct strbuf out = STRBUF_INIT;
	int ret;

	if (ctx->argc > 0)
		return burst_error_set(&ctx->err, BURST_EXIT_USAGE,
				       "__man takes no arguments");
	doc_man_page(&out);
	ret = write_out(&out, &ctx->err);
	strbuf_release(&out);
	return ret;
}

const struct burst_cmd cmd_man = {
	"__man", "Print the manual page cargo-burst(1) in roff (build time)",
	"cargo-burst __man", NULL, CMD_HIDDEN, man_exec, NULL,
};
