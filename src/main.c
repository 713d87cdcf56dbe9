/* main.c - entry point: hand argv to the command dispatcher. */
#include "burst/cli.h"

int main(int argc, char **argv)
{
	return burst_cli_main(argc, argv);
}
