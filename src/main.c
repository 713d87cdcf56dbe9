/* main.c - entry point: hand argv to the command dispatcher. */
#include "burst/cli.h"
#include "burst/hcloud.h"
#include "burst/proc.h"

int main(int argc, char **argv)
{
	/* before anything reads the token; the reapers start here too */
	proc_no_core_dumps();
	/* a caught SIGINT/SIGTERM/SIGHUP ends the API wait in progress */
	hcloud_set_signal_count(proc_signals_caught);
	return burst_cli_main(argc, argv);
}
