/*
 * complete.c - bash, zsh and fish completion scripts generated from the
 * command table (see include/burst/doc.h for where each piece comes from).
 *
 * The scripts are static: they hold the verbs and flags of this build and
 * run no cargo-burst at TAB time.  `meson install` puts them where the
 * shells look (doc/meson.build); `cargo burst completions <shell>` prints
 * them for a shell's startup file.
 */
#include <stdlib.h>
#include <string.h>

#include "burst-version.h"
#include "burst/doc.h"

/* A visible verb with what completes after it. */
struct verb_info {
	const struct burst_cmd *cmd;
	struct doc_opts opts;
	struct strvec args; /* first-argument words (sub-verbs, choices) */
	bool args_verbs;    /* the first argument is a verb (help COMMAND) */
	bool free_args;     /* other arguments: complete file names */
};

struct comp_data {
	struct doc_opts global; /* the options before the verb */
	struct verb_info *verbs;
	size_t nr;
};

static void comp_data_init(struct comp_data *d)
{
	size_t n = 0;

	doc_opts_init(&d->global);
	doc_opts_before_verb(&d->global);
	for (size_t i = 0; burst_commands[i]; i++)
		n += doc_cmd_visible(burst_commands[i]);
	d->verbs = xcalloc(n ? n : 1, sizeof(*d->verbs));
	d->nr = 0;
	for (size_t i = 0; burst_commands[i]; i++) {
		struct verb_info *v;

		if (!doc_cmd_visible(burst_commands[i]))
			continue;
		v = &d->verbs[d->nr++];
		v->cmd = burst_commands[i];
		doc_opts_init(&v->opts);
		doc_opts_after_verb(&v->opts, v->cmd);
		strvec_init(&v->args);
		doc_cmd_positionals(v->cmd, &v->args, &v->args_verbs,
				    &v->free_args);
	}
}

static void comp_data_release(struct comp_data *d)
{
	doc_opts_release(&d->global);
	for (size_t i = 0; i < d->nr; i++) {
		doc_opts_release(&d->verbs[i].opts);
		strvec_clear(&d->verbs[i].args);
	}
	free(d->verbs);
	d->verbs = NULL;
	d->nr = 0;
}

/* Append s in single quotes for sh (bash, zsh): ' becomes '\''. */
static void sh_quote(struct strbuf *out, const char *s)
{
	strbuf_addch(out, '\'');
	for (; *s; s++) {
		if (*s == '\'')
			strbuf_addstr(out, "'\\''");
		else
			strbuf_addch(out, *s);
	}
	strbuf_addch(out, '\'');
}

/* Append s in fish single quotes: \ and ' are escaped. */
static void fish_quote(struct strbuf *out, const char *s)
{
	strbuf_addch(out, '\'');
	for (; *s; s++) {
		if (*s == '\'' || *s == '\\')
			strbuf_addch(out, '\\');
		strbuf_addch(out, *s);
	}
	strbuf_addch(out, '\'');
}

/* Append the flags of opts separated by spaces (only those taking a value). */
static void add_flags(struct strbuf *out, const struct doc_opts *opts,
		      bool with_value_only)
{
	const char *sep = "";

	for (size_t i = 0; i < opts->nr; i++) {
		const struct doc_opt *o = &opts->v[i];

		if (with_value_only && !o->arg)
			continue;
		if (o->short_name) {
			strbuf_addf(out, "%s-%c", sep, o->short_name);
			sep = " ";
		}
		if (o->long_name) {
			strbuf_addf(out, "%s%s", sep, o->long_name);
			sep = " ";
		}
	}
}

/* The verbs separated by spaces. */
static void add_verbs(struct strbuf *out, const struct comp_data *d)
{
	for (size_t i = 0; i < d->nr; i++)
		strbuf_addf(out, "%s%s", i ? " " : "", d->verbs[i].cmd->name);
}

/* The first-argument words of a verb separated by spaces. */
static void add_args(struct strbuf *out, const struct comp_data *d,
		     const struct verb_info *v)
{
	for (size_t i = 0; i < v->args.nr; i++)
		strbuf_addf(out, "%s%s", i ? " " : "", v->args.v[i]);
	if (v->args_verbs) {
		if (v->args.nr)
			strbuf_addch(out, ' ');
		add_verbs(out, d);
	}
}

static void add_choices(struct strbuf *out, const struct doc_opt *o)
{
	for (size_t i = 0; i < o->choices.nr; i++)
		strbuf_addf(out, "%s%s", i ? " " : "", o->choices.v[i]);
}

/* ---- bash ---------------------------------------------------------------- */

/* One case arm per value option of opts for _cargo_burst_value. */
static void bash_value_arms(struct strbuf *out, const char *verb,
			    const struct doc_opts *opts)
{
	for (size_t i = 0; i < opts->nr; i++) {
		const struct doc_opt *o = &opts->v[i];
		struct strbuf choices = STRBUF_INIT;

		if (!o->arg)
			continue;
		strbuf_addch(out, '\t');
		if (o->short_name)
			strbuf_addf(out, "\"%s -%c\"%s", verb, o->short_name,
				    o->long_name ? "|" : "");
		if (o->long_name)
			strbuf_addf(out, "\"%s %s\"", verb, o->long_name);
		strbuf_addstr(out, ")\n\t\t");
		switch (o->value) {
		case DOC_VALUE_CHOICE:
			add_choices(&choices, o);
			strbuf_addstr(out, "_cargo_burst_reply -P \"$4\" -W ");
			sh_quote(out, choices.buf);
			strbuf_addstr(out, " -- \"$3\"");
			break;
		case DOC_VALUE_FILE:
			strbuf_addstr(out, "_cargo_burst_files -P \"$4\" -f -- \"$3\"");
			break;
		case DOC_VALUE_DIR:
			strbuf_addstr(out, "_cargo_burst_files -P \"$4\" -d -- \"$3\"");
			break;
		case DOC_VALUE_ENV:
			strbuf_addstr(out, "_cargo_burst_reply -P \"$4\" -e -- \"$3\"");
			break;
		case DOC_VALUE_ANY:
		case DOC_VALUE_NONE:
			strbuf_addstr(out, "COMPREPLY=()");
			break;
		}
		strbuf_addstr(out, " ;;\n");
		strbuf_release(&choices);
	}
}

void doc_completion_bash(struct strbuf *out)
{
	struct comp_data d;
	struct strbuf tmp = STRBUF_INIT;

	comp_data_init(&d);
	strbuf_addf(out,
"# bash completion for cargo-burst                      -*- shell-script -*-\n"
"# Generated by `cargo burst completions bash` (cargo-burst %s) from\n"
"# the command table; do not edit.\n"
"#\n"
"# Completes `cargo-burst ...` and `cargo burst ...` (it wraps cargo's\n"
"# own completion, which knows no burst before bash-completion 2.12).\n"
"# bash-completion loads it as share/bash-completion/completions/cargo-burst\n"
"# for cargo-burst only; for `cargo burst` add to ~/.bashrc (after\n"
"# bash_completion):  source <(cargo burst completions bash)\n"
"\n"
"# _cargo_burst_reply COMPGEN-ARGS...: COMPREPLY from compgen, one per line.\n"
"_cargo_burst_reply()\n"
"{\n"
"\tlocal w\n"
"\tCOMPREPLY=()\n"
"\twhile IFS= read -r w; do\n"
"\t\tCOMPREPLY+=(\"$w\")\n"
"\tdone < <(compgen \"$@\")\n"
"}\n"
"\n"
"_cargo_burst_files()\n"
"{\n"
"\tcompopt -o filenames 2>/dev/null\n"
"\t_cargo_burst_reply \"$@\"\n"
"}\n"
"\n"
"# _cargo_burst_toolchains CUR: +TOOLCHAIN (the channels, and the local ones)\n"
"_cargo_burst_toolchains()\n"
"{\n"
"\tlocal names='stable beta nightly' t rest\n"
"\twhile read -r t rest; do\n"
"\t\t[[ $t == *-* ]] && names+=\" $t\"\n"
"\tdone < <(rustup toolchain list 2>/dev/null)\n"
"\t_cargo_burst_reply -P + -W \"$names\" -- \"${1#+}\"\n"
"}\n"
"\n"
"# _cargo_burst_load_cargo: load cargo's bash completion (the function in\n"
"# $_cargo_burst_fn, cargo's _cargo by default) with bash-completion's\n"
"# loader once, keeping ours for cargo; status 1 without.\n"
"_cargo_burst_load_cargo()\n"
"{\n"
"\tif ! declare -F \"$_cargo_burst_fn\" >/dev/null && [[ -z ${_cargo_burst_loaded-} ]]; then\n"
"\t\t_cargo_burst_loaded=1\n"
"\t\tif declare -F _comp_load >/dev/null; then\n"
"\t\t\t_comp_load cargo\n"
"\t\telif declare -F __load_completion >/dev/null; then\n"
"\t\t\t__load_completion cargo\n"
"\t\tfi\n"
"\t\tcomplete -F _cargo_burst_cargo cargo\n"
"\tfi\n"
"\tdeclare -F \"$_cargo_burst_fn\" >/dev/null\n"
"}\n"
"\n"
"# _cargo_burst_cargo_words VERB_I: COMPREPLY from cargo's own bash\n"
"# completion (when loaded) for `cargo VERB ...`: the words from VERB_I\n"
"# up to the cursor; status 1 without it.\n"
"_cargo_burst_cargo_words()\n"
"{\n"
"\t_cargo_burst_load_cargo || return 1\n"
"\tlocal -a w=(cargo \"${COMP_WORDS[@]:$1:COMP_CWORD-$1+1}\")\n"
"\tlocal COMP_CWORD=$((COMP_CWORD - $1 + 1))\n"
"\tlocal -a COMP_WORDS=(\"${w[@]}\")\n"
"\tlocal COMP_LINE=\"${w[*]}\"\n"
"\tlocal COMP_POINT=${#COMP_LINE}\n"
"\tCOMPREPLY=()\n"
"\t\"$_cargo_burst_fn\" cargo \"${w[COMP_CWORD]}\" \"${w[COMP_CWORD-1]}\" 2>/dev/null\n"
"\treturn 0\n"
"}\n"
"\n"
"# _cargo_burst_value VERB OPTION CUR PREFIX: complete the value of OPTION\n"
"# (VERB empty: a global option); status 1 when OPTION takes no value.\n"
"_cargo_burst_value()\n"
"{\n"
"\tcase \"$1 $2\" in\n", BURST_VERSION);
	bash_value_arms(out, "", &d.global);
	for (size_t i = 0; i < d.nr; i++)
		bash_value_arms(out, d.verbs[i].cmd->name, &d.verbs[i].opts);
	strbuf_addstr(out,
"\t*) return 1 ;;\n"
"\tesac\n"
"\treturn 0\n"
"}\n"
"\n"
"_cargo_burst()\n"
"{\n"
"\tlocal cur prev pfx='' w i verb='' verb_i=0 npos=0 dd=0 run=0 stop=0 free=0\n"
"\tlocal opts='' vals='' args=''\n");
	add_verbs(&tmp, &d);
	strbuf_addstr(out, "\tlocal verbs=");
	sh_quote(out, tmp.buf);
	strbuf_reset(&tmp);
	add_flags(&tmp, &d.global, false);
	strbuf_addstr(out, "\n\tlocal gopts=");
	sh_quote(out, tmp.buf);
	strbuf_reset(&tmp);
	add_flags(&tmp, &d.global, true);
	strbuf_addstr(out, "\n\tlocal gvals=");
	sh_quote(out, tmp.buf);
	strbuf_addstr(out,
"\n\n"
"\tCOMPREPLY=()\n"
"\tcur=${COMP_WORDS[COMP_CWORD]}\n"
"\tprev=\n"
"\tif (( COMP_CWORD > 0 )); then\n"
"\t\tprev=${COMP_WORDS[COMP_CWORD-1]}\n"
"\tfi\n"
"\t# --opt=VALUE: split at = by readline (COMP_WORDBREAKS) or not\n"
"\tif [[ $cur == = ]]; then\n"
"\t\tcur=\n"
"\telif [[ $prev == = ]] && (( COMP_CWORD > 1 )); then\n"
"\t\tprev=${COMP_WORDS[COMP_CWORD-2]}\n"
"\telif [[ $cur == -*=* ]]; then\n"
"\t\tprev=${cur%%=*}\n"
"\t\tcur=${cur#*=}\n"
"\t\tpfx=$prev=\n"
"\tfi\n"
"\n"
"\t# the verb: the first word that is not a global option, its value or\n"
"\t# +TOOLCHAIN (`cargo burst` arrives as `cargo-burst`; a `burst` after\n"
"\t# `cargo` is skipped when this function completes cargo itself)\n"
"\ti=1\n"
"\tif [[ ${COMP_WORDS[1]-} == burst ]] && (( COMP_CWORD > 1 )); then\n"
"\t\ti=2\n"
"\tfi\n"
"\tfor (( ; i < COMP_CWORD; i++ )); do\n"
"\t\tw=${COMP_WORDS[i]}\n"
"\t\tif [[ \" $gvals \" == *\" $w \"* ]]; then\n"
"\t\t\ti=$((i + 1))\n"
"\t\t\tif [[ ${COMP_WORDS[i]-} == = ]]; then\n"
"\t\t\t\ti=$((i + 1))\n"
"\t\t\tfi\n"
"\t\t\tcontinue\n"
"\t\tfi\n"
"\t\tcase $w in\n"
"\t\t-*|+*|=) continue ;;\n"
"\t\tesac\n"
"\t\tverb=$w\n"
"\t\tverb_i=$i\n"
"\t\tbreak\n"
"\tdone\n"
"\n"
"\tif [[ -z $verb ]]; then\n"
"\t\tif [[ -n $prev ]] && _cargo_burst_value '' \"$prev\" \"$cur\" \"$pfx\"; then\n"
"\t\t\treturn 0\n"
"\t\tfi\n"
"\t\tcase $cur in\n"
"\t\t-*) _cargo_burst_reply -W \"$gopts\" -- \"$cur\" ;;\n"
"\t\t+*) _cargo_burst_toolchains \"$cur\" ;;\n"
"\t\t*) _cargo_burst_reply -W \"$verbs\" -- \"$cur\" ;;\n"
"\t\tesac\n"
"\t\treturn 0\n"
"\tfi\n"
"\n"
"\t# what the verb takes: its flags, those with a value, its first\n"
"\t# argument; run=1: a run verb (+TOOLCHAIN); stop=1: the first other\n"
"\t# word starts the command (ssh), else options go on up to a --\n"
"\tcase $verb in\n");
	for (size_t i = 0; i < d.nr; i++) {
		const struct verb_info *v = &d.verbs[i];

		strbuf_addf(out, "\t%s)\n\t\topts=", v->cmd->name);
		strbuf_reset(&tmp);
		add_flags(&tmp, &v->opts, false);
		sh_quote(out, tmp.buf);
		strbuf_addstr(out, "\n\t\tvals=");
		strbuf_reset(&tmp);
		add_flags(&tmp, &v->opts, true);
		sh_quote(out, tmp.buf);
		strbuf_addstr(out, "\n\t\targs=");
		strbuf_reset(&tmp);
		add_args(&tmp, &d, v);
		sh_quote(out, tmp.buf);
		strbuf_addf(out, "\n\t\trun=%d\n\t\tstop=%d\n\t\tfree=%d\n\t\t;;\n",
			    (v->cmd->flags & CMD_RUN) ? 1 : 0,
			    (v->cmd->flags & CMD_RUN_SHELL) ? 1 : 0,
			    v->free_args ? 1 : 0);
	}
	strbuf_addstr(out,
"\t*)\n"
"\t\t_cargo_burst_files -f -- \"$cur\"\n"
"\t\treturn 0\n"
"\t\t;;\n"
"\tesac\n"
"\n"
"\tfor (( i = verb_i + 1; i < COMP_CWORD; i++ )); do\n"
"\t\tw=${COMP_WORDS[i]}\n"
"\t\tif (( stop && npos )); then\n"
"\t\t\tbreak\n"
"\t\tfi\n"
"\t\tif [[ $w == -- ]]; then\n"
"\t\t\tdd=1\n"
"\t\t\tbreak\n"
"\t\tfi\n"
"\t\tif [[ \" $vals \" == *\" $w \"* ]]; then\n"
"\t\t\ti=$((i + 1))\n"
"\t\t\tif [[ ${COMP_WORDS[i]-} == = ]]; then\n"
"\t\t\t\ti=$((i + 1))\n"
"\t\t\tfi\n"
"\t\t\tcontinue\n"
"\t\tfi\n"
"\t\tcase $w in\n"
"\t\t-*|+*|=) ;;\n"
"\t\t*) npos=$((npos + 1)) ;;\n"
"\t\tesac\n"
"\tdone\n"
"\n"
"\t# cargo's arguments after a --, ssh's command: file names\n"
"\tif (( dd || (stop && npos) )); then\n"
"\t\t_cargo_burst_files -f -- \"$cur\"\n"
"\t\treturn 0\n"
"\tfi\n"
"\tif [[ -n $prev ]] && _cargo_burst_value \"$verb\" \"$prev\" \"$cur\" \"$pfx\"; then\n"
"\t\treturn 0\n"
"\tfi\n"
"\t# a run verb's other words are cargo's: what cargo's completion offers\n"
"\t# (its options for the verb too), ours merged in\n"
"\tif [[ $cur == -* ]]; then\n"
"\t\tlocal -a mine=()\n"
"\t\tlocal -A seen=()\n"
"\t\tif (( run && !stop )) && _cargo_burst_cargo_words \"$verb_i\"; then\n"
"\t\t\tmine=(\"${COMPREPLY[@]}\")\n"
"\t\tfi\n"
"\t\t_cargo_burst_reply -W \"$opts\" -- \"$cur\"\n"
"\t\tfor w in \"${COMPREPLY[@]}\" \"${mine[@]}\"; do\n"
"\t\t\tseen[$w]=1\n"
"\t\tdone\n"
"\t\tCOMPREPLY=(\"${!seen[@]}\")\n"
"\telif [[ $cur == +* ]] && (( run )); then\n"
"\t\t_cargo_burst_toolchains \"$cur\"\n"
"\telif (( run && !stop )) && _cargo_burst_cargo_words \"$verb_i\" &&\n"
"\t\t(( ${#COMPREPLY[@]} )); then\n"
"\t\t:\n"
"\telif (( npos == 0 )) && [[ -n $args ]]; then\n"
"\t\t_cargo_burst_reply -W \"$args\" -- \"$cur\"\n"
"\telif (( free )); then\n"
"\t\t_cargo_burst_files -f -- \"$cur\"\n"
"\tfi\n"
"\treturn 0\n"
"}\n"
"\n"
"complete -F _cargo_burst cargo-burst\n"
"\n"
"# `cargo burst ...`: cargo's own bash completion completes file names\n"
"# after burst (bash-completion before 2.12), so cargo's completion goes\n"
"# through here: a burst to _cargo_burst, the rest to cargo's _cargo,\n"
"# which bash-completion's loader loads on first use.\n"
"_cargo_burst_cargo()\n"
"{\n"
"\tif [[ ${COMP_WORDS[1]-} == burst ]] && (( COMP_CWORD > 1 )); then\n"
"\t\t_cargo_burst \"$@\"\n"
"\telif _cargo_burst_load_cargo; then\n"
"\t\t\"$_cargo_burst_fn\" \"$@\"\n"
"\telse\n"
"\t\t_cargo_burst_files -f -- \"${COMP_WORDS[COMP_CWORD]}\"\n"
"\tfi\n"
"}\n"
"\n"
"# the function completing cargo so far, if any (else cargo's _cargo)\n"
"_cargo_burst_fn=$(complete -p cargo 2>/dev/null)\n"
"if [[ $_cargo_burst_fn == *\" -F \"* ]]; then\n"
"\t_cargo_burst_fn=${_cargo_burst_fn#* -F }\n"
"\t_cargo_burst_fn=${_cargo_burst_fn%% *}\n"
"fi\n"
"if [[ ! $_cargo_burst_fn =~ ^[[:alpha:]_][[:alnum:]_-]*$ ||\n"
"      $_cargo_burst_fn == _cargo_burst_cargo ]]; then\n"
"\t_cargo_burst_fn=_cargo\n"
"fi\n"
"complete -F _cargo_burst_cargo cargo\n");
	strbuf_release(&tmp);
	comp_data_release(&d);
}

/* ---- zsh ----------------------------------------------------------------- */

/* Append s for inside '...[s]' of an _arguments spec. */
static void zsh_bracket_text(struct strbuf *out, const char *s)
{
	for (; *s; s++) {
		if (*s == '\'')
			strbuf_addstr(out, "'\\''");
		else if (*s == '[' || *s == ']' || *s == '\\')
			strbuf_addf(out, "\\%c", *s);
		else
			strbuf_addch(out, *s);
	}
}

/* Append s for a colon-separated field (message) of an _arguments spec. */
static void zsh_field_text(struct strbuf *out, const char *s)
{
	for (; *s; s++) {
		if (*s == '\'')
			strbuf_addstr(out, "'\\''");
		else if (*s == ':' || *s == '\\')
			strbuf_addf(out, "\\%c", *s);
		else
			strbuf_addch(out, *s);
	}
}

/* The ":MESSAGE:ACTION" tail of a value option's spec. */
static void zsh_value_tail(struct strbuf *out, const struct doc_opt *o)
{
	strbuf_addch(out, ':');
	zsh_field_text(out, o->arg);
	strbuf_addch(out, ':');
	switch (o->value) {
	case DOC_VALUE_CHOICE:
		strbuf_addch(out, '(');
		add_choices(out, o);
		strbuf_addch(out, ')');
		break;
	case DOC_VALUE_FILE:
		strbuf_addstr(out, "_files");
		break;
	case DOC_VALUE_DIR:
		strbuf_addstr(out, "_files -/");
		break;
	case DOC_VALUE_ENV:
		strbuf_addstr(out, "_parameters -g \"*export*\"");
		break;
	case DOC_VALUE_ANY:
	case DOC_VALUE_NONE:
		strbuf_addch(out, ' ');
		break;
	}
}

/* A command completing the value of o (the word after it). */
static void zsh_value_action(struct strbuf *out, const struct doc_opt *o)
{
	switch (o->value) {
	case DOC_VALUE_CHOICE:
		strbuf_addstr(out, "compadd -- ");
		add_choices(out, o);
		break;
	case DOC_VALUE_FILE:
		strbuf_addstr(out, "_files");
		break;
	case DOC_VALUE_DIR:
		strbuf_addstr(out, "_files -/");
		break;
	case DOC_VALUE_ENV:
		strbuf_addstr(out, "_parameters -g '*export*'");
		break;
	case DOC_VALUE_ANY:
	case DOC_VALUE_NONE:
		strbuf_addstr(out, "_message ");
		sh_quote(out, o->arg ? o->arg : "value");
		break;
	}
}

/* One _arguments spec line per flag of o. */
static void zsh_opt_specs(struct strbuf *out, const struct doc_opt *o)
{
	for (int pass = 0; pass < 2; pass++) {
		if (pass == 0 && !o->short_name)
			continue;
		if (pass == 1 && !o->long_name)
			continue;
		strbuf_addstr(out, "\t\t\t'");
		if (o->repeatable)
			strbuf_addch(out, '*');
		if (pass == 0)
			strbuf_addf(out, "-%c%s", o->short_name, o->arg ? "+" : "");
		else
			strbuf_addf(out, "%s%s", o->long_name, o->arg ? "=" : "");
		strbuf_addch(out, '[');
		zsh_bracket_text(out, o->help);
		strbuf_addch(out, ']');
		if (o->arg)
			zsh_value_tail(out, o);
		strbuf_addstr(out, "' \\\n");
	}
}

/* Entries 'name:description' for _describe. */
static void zsh_describe_entry(struct strbuf *out, const char *name,
			       const char *desc)
{
	struct strbuf e = STRBUF_INIT;

	for (const char *s = name; *s; s++) {
		if (*s == ':')
			strbuf_addch(&e, '\\');
		strbuf_addch(&e, *s);
	}
	strbuf_addf(&e, ":%s", desc);
	strbuf_addstr(out, "\t\t");
	sh_quote(out, e.buf);
	strbuf_addch(out, '\n');
	strbuf_release(&e);
}

void doc_completion_zsh(struct strbuf *out)
{
	struct comp_data d;

	comp_data_init(&d);
	strbuf_addf(out,
"#compdef cargo-burst\n"
"# zsh completion for cargo-burst\n"
"# Generated by `cargo burst completions zsh` (cargo-burst %s) from\n"
"# the command table; do not edit.\n"
"#\n"
"# Installed as _cargo-burst in a directory of $fpath\n"
"# (share/zsh/site-functions), or add to ~/.zshrc after compinit:\n"
"#   source <(cargo burst completions zsh)\n"
"# It completes `cargo-burst ...`, and `cargo burst ...` too: cargo's own\n"
"# _cargo calls _cargo-burst for the external command burst; after a run\n"
"# verb, cargo's _cargo (when in $fpath) adds cargo's options for it.\n"
"\n"
"_cargo-burst_verbs() {\n"
"\tlocal -a verbs\n"
"\tverbs=(\n", BURST_VERSION);
	for (size_t i = 0; i < d.nr; i++)
		zsh_describe_entry(out, d.verbs[i].cmd->name,
				   d.verbs[i].cmd->summary);
	strbuf_addstr(out,
"\t)\n"
"\t_describe -t commands 'cargo-burst command' verbs\n"
"}\n"
"\n"
"_cargo-burst_toolchains() {\n"
"\tlocal -a tc\n"
"\tlocal line\n"
"\ttc=(stable beta nightly)\n"
"\tfor line in ${(f)\"$(rustup toolchain list 2>/dev/null)\"}; do\n"
"\t\t[[ $line == *-* ]] && tc+=(${line%% *})\n"
"\tdone\n"
"\tcompset -P '+'\n"
"\tcompadd -- $tc\n"
"}\n"
"\n"
"# _cargo-burst_cargo: what cargo's own zsh completion (_cargo, when in\n"
"# $fpath) offers for `cargo VERB ...`, words[1] being the verb: cargo's\n"
"# options for a run verb; status 1 without _cargo.\n"
"_cargo-burst_cargo() {\n"
"\t(( $+functions[_cargo] )) || return 1\n"
"\twords=(cargo \"${(@)words}\")\n"
"\t(( CURRENT += 1 ))\n"
"\t_cargo\n"
"}\n"
"\n"
"_cargo-burst() {\n"
"\tlocal curcontext=\"$curcontext\" ret=1 i=2 verb_i=0 w\n"
"\tlocal -a gopts\n"
"\tgopts=(\n");
	for (size_t i = 0; i < d.global.nr; i++) {
		const struct doc_opt *o = &d.global.v[i];
		char shortf[3] = { '-', o->short_name, 0 };

		if (o->short_name)
			zsh_describe_entry(out, shortf, o->help);
		if (o->long_name)
			zsh_describe_entry(out, o->long_name, o->help);
	}
	strbuf_addstr(out,
"\t)\n"
"\n"
"\t# words[1] is cargo-burst, or burst when cargo's _cargo called us\n"
"\twhile (( i < CURRENT )); do\n"
"\t\tw=$words[i]\n"
"\t\tcase $w in\n");
	for (size_t i = 0; i < d.global.nr; i++) {
		const struct doc_opt *o = &d.global.v[i];

		if (!o->arg)
			continue;
		if (o->short_name)
			strbuf_addf(out, "\t\t(-%c) (( i += 2 )); continue ;;\n",
				    o->short_name);
		if (o->long_name)
			strbuf_addf(out, "\t\t(%s) (( i += 2 )); continue ;;\n",
				    o->long_name);
	}
	strbuf_addstr(out,
"\t\t(-*|+*) (( i += 1 )); continue ;;\n"
"\t\tesac\n"
"\t\tverb_i=$i\n"
"\t\tbreak\n"
"\tdone\n"
"\n"
"\tif (( verb_i == 0 )); then\n"
"\t\t# global options, +TOOLCHAIN or the verb\n"
"\t\tcase $words[CURRENT-1] in\n");
	for (size_t i = 0; i < d.global.nr; i++) {
		const struct doc_opt *o = &d.global.v[i];

		if (!o->arg)
			continue;
		strbuf_addstr(out, "\t\t(");
		if (o->short_name)
			strbuf_addf(out, "-%c%s", o->short_name,
				    o->long_name ? "|" : "");
		if (o->long_name)
			strbuf_addstr(out, o->long_name);
		strbuf_addstr(out, ")\n\t\t\t");
		zsh_value_action(out, o);
		strbuf_addstr(out, "\n\t\t\treturn\n\t\t\t;;\n");
	}
	strbuf_addstr(out,
"\t\tesac\n"
"\t\tcase $PREFIX in\n");
	for (size_t i = 0; i < d.global.nr; i++) {
		const struct doc_opt *o = &d.global.v[i];

		if (!o->arg || !o->long_name)
			continue;
		strbuf_addf(out, "\t\t(%s=*)\n\t\t\tcompset -P '*='\n\t\t\t",
			    o->long_name);
		zsh_value_action(out, o);
		strbuf_addstr(out, "\n\t\t\treturn\n\t\t\t;;\n");
	}
	strbuf_addstr(out,
"\t\t(-*)\n"
"\t\t\t_describe -t options 'option' gopts\n"
"\t\t\treturn\n"
"\t\t\t;;\n"
"\t\t(+*)\n"
"\t\t\t_cargo-burst_toolchains\n"
"\t\t\treturn\n"
"\t\t\t;;\n"
"\t\tesac\n"
"\t\t_cargo-burst_verbs\n"
"\t\treturn\n"
"\tfi\n"
"\n"
"\t# from the verb on: words[1] is the verb\n"
"\tshift $(( verb_i - 1 )) words\n"
"\t(( CURRENT -= verb_i - 1 ))\n"
"\tcurcontext=\"${curcontext%:*:*}:cargo-burst-${words[1]}:\"\n"
"\tcase $words[1] in\n");
	for (size_t i = 0; i < d.nr; i++) {
		const struct verb_info *v = &d.verbs[i];

		strbuf_addf(out, "\t(%s)\n\t\t_arguments -s -S \\\n",
			    v->cmd->name);
		for (size_t k = 0; k < v->opts.nr; k++)
			zsh_opt_specs(out, &v->opts.v[k]);
		if (v->args.nr) {
			strbuf_addstr(out, "\t\t\t'1: :(");
			for (size_t k = 0; k < v->args.nr; k++)
				strbuf_addf(out, "%s%s", k ? " " : "",
					    v->args.v[k]);
			strbuf_addstr(out, ")' \\\n");
		} else if (v->args_verbs) {
			strbuf_addstr(out, "\t\t\t'1: :_cargo-burst_verbs' \\\n");
		}
		/* ssh: the first other word starts the command; the other
		   run verbs take their options up to a -- (-S) */
		if (v->cmd->flags & CMD_RUN_SHELL)
			strbuf_addstr(out, "\t\t\t'*:: :_default' \\\n");
		else if (v->cmd->flags & CMD_RUN)
			strbuf_addstr(out, "\t\t\t'*: :_default' \\\n");
		else if (v->free_args)
			strbuf_addstr(out, "\t\t\t'*: :_default' \\\n");
		/* the last line of the _arguments call ends the continuation */
		strbuf_addstr(out, "\t\t\t&& ret=0\n");
		/* a run verb's other words are cargo's: its completion too */
		if ((v->cmd->flags & CMD_RUN) && !(v->cmd->flags & CMD_RUN_SHELL))
			strbuf_addstr(out, "\t\t_cargo-burst_cargo && ret=0\n");
		strbuf_addstr(out, "\t\t;;\n");
	}
	strbuf_addstr(out,
"\t(*)\n"
"\t\t_default && ret=0\n"
"\t\t;;\n"
"\tesac\n"
"\treturn ret\n"
"}\n"
"\n"
"if [[ $funcstack[1] == _cargo-burst ]]; then\n"
"\t_cargo-burst \"$@\"\n"
"else\n"
"\tcompdef _cargo-burst cargo-burst\n"
"fi\n");
	comp_data_release(&d);
}

/* ---- fish ---------------------------------------------------------------- */

/* complete lines for one option, for both commands. */
static void fish_opt(struct strbuf *out, const char *cond,
		     const struct doc_opt *o)
{
	static const char *const cmds[] = { "cargo-burst", "cargo" };

	for (size_t c = 0; c < ARRAY_SIZE(cmds); c++) {
		strbuf_addf(out, "complete -c %s -n ", cmds[c]);
		fish_quote(out, cond);
		if (o->short_name)
			strbuf_addf(out, " -s %c", o->short_name);
		if (o->long_name)
			strbuf_addf(out, " -l %s", o->long_name + 2);
		switch (o->value) {
		case DOC_VALUE_CHOICE: {
			struct strbuf ch = STRBUF_INIT;

			add_choices(&ch, o);
			strbuf_addstr(out, " -x -a ");
			fish_quote(out, ch.buf);
			strbuf_release(&ch);
			break;
		}
		case DOC_VALUE_FILE:
			strbuf_addstr(out, " -r -F");
			break;
		case DOC_VALUE_DIR:
			strbuf_addstr(out, " -x -a '(__fish_complete_directories)'");
			break;
		case DOC_VALUE_ENV:
			strbuf_addstr(out, " -x -a '(set -xn)'");
			break;
		case DOC_VALUE_ANY:
			strbuf_addstr(out, " -x");
			break;
		case DOC_VALUE_NONE:
			break;
		}
		strbuf_addstr(out, " -d ");
		fish_quote(out, o->help);
		strbuf_addch(out, '\n');
	}
}

/* complete lines offering words (no files), for both commands. */
static void fish_words(struct strbuf *out, const char *cond, const char *words,
		       const char *desc)
{
	static const char *const cmds[] = { "cargo-burst", "cargo" };

	for (size_t c = 0; c < ARRAY_SIZE(cmds); c++) {
		strbuf_addf(out, "complete -c %s -n ", cmds[c]);
		fish_quote(out, cond);
		strbuf_addstr(out, " -f -a ");
		fish_quote(out, words);
		if (desc) {
			strbuf_addstr(out, " -d ");
			fish_quote(out, desc);
		}
		strbuf_addch(out, '\n');
	}
}

/* complete lines turning file names off, for both commands. */
static void fish_no_files(struct strbuf *out, const char *cond)
{
	static const char *const cmds[] = { "cargo-burst", "cargo" };

	for (size_t c = 0; c < ARRAY_SIZE(cmds); c++) {
		strbuf_addf(out, "complete -c %s -n ", cmds[c]);
		fish_quote(out, cond);
		strbuf_addstr(out, " -f\n");
	}
}

void doc_completion_fish(struct strbuf *out)
{
	struct comp_data d;
	struct strbuf gvals = STRBUF_INIT, tmp = STRBUF_INIT;
	struct strbuf cond = STRBUF_INIT;

	comp_data_init(&d);
	add_flags(&gvals, &d.global, true);
	strbuf_addf(out,
"# fish completion for cargo-burst\n"
"# Generated by `cargo burst completions fish` (cargo-burst %s) from\n"
"# the command table; do not edit.\n"
"#\n"
"# Installed as cargo-burst.fish in a completions directory\n"
"# (share/fish/vendor_completions.d), fish loads it for `cargo-burst`.  For\n"
"# `cargo burst` as well, add to ~/.config/fish/config.fish:\n"
"#   cargo burst completions fish | source\n"
"# After a run verb, cargo's own completion adds cargo's options.\n"
"\n"
"function __cargo_burst_args --description 'words after cargo-burst or cargo burst'\n"
"    set -l t (commandline -opc)\n"
"    set -l head (string replace -r '.*/' '' -- $t[1])\n"
"    set -e t[1]\n"
"    if test \"$head\" = cargo\n"
"        test \"$t[1]\" = burst; or return 1\n"
"        set -e t[1]\n"
"    else if test \"$head\" != cargo-burst\n"
"        return 1\n"
"    end\n"
"    for w in $t\n"
"        echo $w\n"
"    end\n"
"end\n"
"\n"
"function __cargo_burst_verb --description 'the verb; status 1 before it, 2 for another command'\n"
"    set -l args (__cargo_burst_args); or return 2\n"
"    set -l skip 0\n"
"    for w in $args\n"
"        if test $skip -eq 1\n"
"            set skip 0\n"
"        else if contains -- $w %s\n"
"            set skip 1\n"
"        else if not string match -qr -- '^[-+]' $w\n"
"            echo $w\n"
"            return 0\n"
"        end\n"
"    end\n"
"    return 1\n"
"end\n"
"\n"
"function __cargo_burst_needs_verb\n"
"    __cargo_burst_verb >/dev/null\n"
"    test $status -eq 1\n"
"end\n"
"\n"
"function __cargo_burst_using --description 'is the verb one of $argv'\n"
"    set -l v (__cargo_burst_verb); or return 1\n"
"    contains -- $v $argv\n"
"end\n"
"\n"
"function __cargo_burst_npos --description 'arguments after the verb; $argv: its options with a value'\n"
"    set -l args (__cargo_burst_args); or return 1\n"
"    set -l skip 0\n"
"    set -l seen 0\n"
"    set -l n 0\n"
"    for w in $args\n"
"        if test $skip -eq 1\n"
"            set skip 0\n"
"        else if test $seen -eq 0\n"
"            if contains -- $w %s\n"
"                set skip 1\n"
"            else if not string match -qr -- '^[-+]' $w\n"
"                set seen 1\n"
"            end\n"
"        else if contains -- $w $argv\n"
"            set skip 1\n"
"        else if not string match -qr -- '^[-+]' $w\n"
"            set n (math $n + 1)\n"
"        end\n"
"    end\n"
"    echo $n\n"
"end\n"
"\n"
"function __cargo_burst_no_dashdash --description 'no -- on the line yet'\n"
"    set -l args (__cargo_burst_args); or return 1\n"
"    not contains -- -- $args\n"
"end\n"
"\n"
"function __cargo_burst_toolchains\n"
"    set -l tc stable beta nightly\n"
"    if command -q rustup\n"
"        for t in (rustup toolchain list 2>/dev/null | string replace -r ' .*' '')\n"
"            string match -q -- '*-*' $t; and set -a tc $t\n"
"        end\n"
"    end\n"
"    for t in $tc\n"
"        echo +$t\n"
"    end\n"
"end\n"
"\n"
"function __cargo_burst_cargo --description 'cargo completion of cargo VERB ..., for cargo-burst VERB ...'\n"
"    set -l t (commandline -opc)\n"
"    set -e t[1]\n"
"    complete -C (string join ' ' -- cargo (string escape -- $t) (commandline -ct))\n"
"end\n"
"\n"
"# before the verb: global options, +TOOLCHAIN and the verbs\n",
		    BURST_VERSION, gvals.buf, gvals.buf);
	for (size_t i = 0; i < d.global.nr; i++)
		fish_opt(out, "__cargo_burst_needs_verb", &d.global.v[i]);
	fish_words(out, "__cargo_burst_needs_verb; and string match -q -- '+*' "
		   "(commandline -ct)", "(__cargo_burst_toolchains)", NULL);
	for (size_t i = 0; i < d.nr; i++)
		fish_words(out, "__cargo_burst_needs_verb", d.verbs[i].cmd->name,
			   d.verbs[i].cmd->summary);
	for (size_t i = 0; i < d.nr; i++) {
		const struct verb_info *v = &d.verbs[i];

		strbuf_addf(out, "\n# %s\n", v->cmd->name);
		strbuf_reset(&tmp);
		add_flags(&tmp, &v->opts, true);
		strbuf_reset(&cond);
		strbuf_addf(&cond, "__cargo_burst_using %s", v->cmd->name);
		/* ssh: options only before its command; the other run verbs:
		   up to a -- */
		if (v->cmd->flags & CMD_RUN_SHELL)
			strbuf_addf(&cond, "; and test (__cargo_burst_npos%s%s) "
				    "-eq 0", tmp.len ? " " : "", tmp.buf);
		else if (v->cmd->flags & CMD_RUN)
			strbuf_addstr(&cond, "; and __cargo_burst_no_dashdash");
		for (size_t k = 0; k < v->opts.nr; k++)
			fish_opt(out, cond.buf, &v->opts.v[k]);
		/* a run verb's other words are cargo's: cargo's completion
		   (fish applies it itself to `cargo burst VERB`) */
		if ((v->cmd->flags & CMD_RUN) &&
		    !(v->cmd->flags & CMD_RUN_SHELL)) {
			strbuf_addf(out, "complete -c cargo-burst -n "
				    "'__cargo_burst_using %s; and "
				    "__cargo_burst_no_dashdash' -a "
				    "'(__cargo_burst_cargo)'\n",
				    v->cmd->name);
		}
		if (!(v->cmd->flags & CMD_RUN) && !v->free_args) {
			/* no file names for a verb that takes none */
			strbuf_reset(&cond);
			strbuf_addf(&cond, "__cargo_burst_using %s", v->cmd->name);
			fish_no_files(out, cond.buf);
		}
		if (v->args.nr || v->args_verbs) {
			struct strbuf words = STRBUF_INIT;

			strbuf_reset(&cond);
			strbuf_addf(&cond, "__cargo_burst_using %s; and test "
				    "(__cargo_burst_npos%s%s) -eq 0",
				    v->cmd->name, tmp.len ? " " : "", tmp.buf);
			add_args(&words, &d, v);
			fish_words(out, cond.buf, words.buf, NULL);
			strbuf_release(&words);
		}
	}
	strbuf_release(&cond);
	strbuf_release(&tmp);
	strbuf_release(&gvals);
	comp_data_release(&d);
}

int doc_completion(const char *shell, struct strbuf *out,
		   struct burst_error *err)
{
	if (!strcmp(shell, "bash")) {
		doc_completion_bash(out);
	} else if (!strcmp(shell, "zsh")) {
		doc_completion_zsh(out);
	} else if (!strcmp(shell, "fish")) {
		doc_completion_fish(out);
	} else {
		burst_error_set(err, BURST_EXIT_USAGE,
				"unsupported shell '%s'", shell);
		burst_error_hint(err, "the shells are bash, zsh and fish");
		return -1;
	}
	return 0;
}
