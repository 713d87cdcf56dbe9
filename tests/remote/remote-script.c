/*
 * remote-script.c - print the mount/umount scripts of the remote module so
 * shell tests can run them:  remote-script mount DEV MNT OWNER | umount MNT
 */
#include <stdio.h>
#include <string.h>

#include "burst/remote.h"

int main(int argc, char **argv)
{
	struct strbuf sb = STRBUF_INIT;

	if (argc == 5 && !strcmp(argv[1], "mount"))
		remote_mount_script(argv[2], argv[3], *argv[4] ? argv[4] : NULL, &sb);
	else if (argc == 3 && !strcmp(argv[1], "umount"))
		remote_umount_script(argv[2], &sb);
	else {
		fprintf(stderr, "usage: remote-script mount DEV MNT OWNER | umount MNT\n");
		return 2;
	}
	fwrite(sb.buf, 1, sb.len, stdout);
	strbuf_release(&sb);
	return 0;
}
