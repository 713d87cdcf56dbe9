/* remote-int.h - helpers shared by the files of the remote module. */
#ifndef BURST_REMOTE_INT_H
#define BURST_REMOTE_INT_H

#include "burst/remote.h"

/* Create dir and its missing parents with the given mode; 0 or -1 + errno. */
int remote_mkdir_p(const char *dir, unsigned mode);
/* The last non-empty line of a child's captured stderr (allocated), or NULL. */
char *remote_last_line(const struct strbuf *sb);
/* Push "user@host" style destination of h (just the host; user goes via -l). */
const char *remote_dest(const struct remote_host *h);

#endif
