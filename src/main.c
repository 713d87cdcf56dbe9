/* main.c - entry point: hand argv to the command dispatcher. */
#include "burst/cli.h"
#include "burst/proc.h"

int main(int argc, char **argv)
{
	/* before anything reads the token; the reapers start here too */
	proc_no_core_dumps();
	return burst_cli_main(argc, argv);
}
