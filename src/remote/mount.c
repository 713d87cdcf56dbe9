/* mount.c - the volume mount and unmount scripts; see include/burst/remote.h. */
#include <string.h>

#include "remote-int.h"

/* The device (maj:min) of the topmost mount at $mnt, or nothing. */
static const char mounted_dev_function[] =
	"mounted_dev() {\n"
	"\tawk -v m=\"$mnt\" '$5 == m { d = $3 } END { print d }' /proc/self/mountinfo\n"
	"}\n";

/* On failure: the reason and the device listing, on stderr; exit status $rc. */
static const char fail_function[] =
	"rc=1\n"
	"fail() {\n"
	"\techo \"cargo-burst: $*\" >&2\n"
	"\techo 'cargo-burst: ls -l /dev/disk/by-id:' >&2\n"
	"\tls -l /dev/disk/by-id >&2 2>&1\n"
	"\techo 'cargo-burst: lsblk:' >&2\n"
	"\tlsblk >&2 2>&1\n"
	"\texit \"$rc\"\n"
	"}\n";

void remote_mount_script(const char *device_path, const char *mount_point,
			 const char *owner, struct strbuf *out)
{
	remote_mount_script_wait(device_path, mount_point, owner, 30, out);
}

void remote_mount_script_wait(const char *device_path, const char *mount_point,
			      const char *owner, int wait_secs, struct strbuf *out)
{
	strbuf_addstr(out, "#!/bin/sh\n# cargo-burst: mount the project volume\nset -u\ndev=");
	remote_shell_quote(out, device_path);
	strbuf_addstr(out, "\nmnt=");
	remote_shell_quote(out, mount_point);
	strbuf_addstr(out, "\nowner=");
	remote_shell_quote(out, owner ? owner : "");
	strbuf_addf(out, "\nwait_s=%d\n", wait_secs < 0 ? 0 : wait_secs);
	strbuf_addstr(out, mounted_dev_function);
	strbuf_addstr(out, fail_function);
	strbuf_addf(out,
		/*
		 * Wait (bounded) for the device node: attach is asynchronous.
		 * No child process at all when it is there (the warm case).
		 */
		"if [ ! -b \"$dev\" ]; then\n"
		"\tend=$(( $(date +%%s) + wait_s ))\n"
		"\twhile [ ! -b \"$dev\" ]; do\n"
		"\t\tif [ \"$(date +%%s)\" -ge \"$end\" ]; then\n"
		"\t\t\trc=%d\n"
		"\t\t\tfail \"device $dev did not appear within $wait_s s\"\n"
		"\t\tfi\n"
		"\t\tsleep 0.1 2>/dev/null || sleep 1\n"
		"\tdone\n"
		"fi\n", REMOTE_MOUNT_NO_DEVICE);
	strbuf_addstr(out,
		"# shellcheck disable=SC2046\n"
		"set -- $(stat -L -c '%t %T' \"$dev\") || fail \"cannot stat $dev\"\n"
		"want=$(printf '%d:%d' \"0x$1\" \"0x$2\")\n"
		/* Idempotence: same device -> ok; another or vanished -> unmount. */
		"i=0\n"
		"while cur=$(mounted_dev) && [ -n \"$cur\" ]; do\n"
		"\tif [ \"$cur\" = \"$want\" ]; then\n"
		"\t\tif [ -n \"$owner\" ]; then chown \"$owner\" \"$mnt\" || fail \"cannot chown $mnt to $owner\"; fi\n"
		"\t\texit 0\n"
		"\tfi\n"
		"\techo \"cargo-burst: $mnt is mounted from another device ($cur, want $want): unmounting\" >&2\n"
		"\tumount \"$mnt\" || umount -l \"$mnt\" || fail \"cannot unmount the stale mount at $mnt\"\n"
		"\ti=$((i + 1))\n"
		"\t[ \"$i\" -ge 8 ] && fail \"$mnt stays mounted from another device\"\n"
		"done\n"
		"mkdir -p \"$mnt\" || fail \"cannot create $mnt\"\n"
		"mount -t ext4 -o noatime \"$dev\" \"$mnt\" || fail \"cannot mount $dev at $mnt\"\n"
		"if [ -n \"$owner\" ]; then chown \"$owner\" \"$mnt\" || fail \"cannot chown $mnt to $owner\"; fi\n"
		"exit 0\n");
}

void remote_umount_script(const char *mount_point, struct strbuf *out)
{
	strbuf_addstr(out, "#!/bin/sh\n# cargo-burst: unmount the project volume\nset -u\nmnt=");
	remote_shell_quote(out, mount_point);
	strbuf_addch(out, '\n');
	strbuf_addstr(out, mounted_dev_function);
	strbuf_addstr(out,
		/* Processes with a cwd, root or open file under $mnt (e.g. sccache). */
		"users() {\n"
		"\tfor p in /proc/[0-9]*; do\n"
		"\t\tfor l in \"$p\"/cwd \"$p\"/root \"$p\"/fd/*; do\n"
		"\t\t\tt=$(readlink \"$l\" 2>/dev/null) || continue\n"
		"\t\t\tcase \"$t\" in \"$mnt\"|\"$mnt\"/*) echo \"${p#/proc/}\"; break;; esac\n"
		"\t\tdone\n"
		"\tdone\n"
		"}\n"
		"[ -n \"$(mounted_dev)\" ] || exit 0\n"
		"sync\n"
		"for sig in none TERM KILL; do\n"
		"\tif [ \"$sig\" != none ]; then\n"
		"\t\tpids=$(users)\n"
		"\t\t# shellcheck disable=SC2086\n"
		"\t\t[ -n \"$pids\" ] && kill -s \"$sig\" $pids 2>/dev/null\n"
		"\t\tsleep 1\n"
		"\tfi\n"
		"\tumount \"$mnt\" 2>/dev/null && { [ -n \"$(mounted_dev)\" ] || exit 0; }\n"
		"done\n"
		"echo \"cargo-burst: cannot unmount $mnt; in use by: $(users | tr '\\n' ' ')\" >&2\n"
		"exit 1\n");
}
