/*
 * cli.h - argv routing and the command table.
 */
#ifndef BURST_CLI_H
#define BURST_CLI_H

/* Run the tool: route argv to a command, return the process exit code. */
int burst_cli_main(int argc, char **argv);

#endif
