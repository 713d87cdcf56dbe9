/* cli.c - argv routing (grows into the command table dispatcher). */
#include <stdio.h>
#include <string.h>

#include "burst-version.h"
#include "burst/cli.h"
#include "burst/error.h"

int burst_cli_main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "--version")) {
		printf("cargo-burst %s\n", BURST_VERSION);
		return 0;
	}
	fprintf(stderr, "usage: cargo burst <verb> [args]\n");
	return BURST_EXIT_USAGE;
}
