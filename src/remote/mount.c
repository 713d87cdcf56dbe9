/* mount.c - the volume mount and unmount scripts; see include/burst/remote.h. */
#include <string.h>

#include "remote-int.h"

/* The device (maj:min) of the topmost mount at $mnt, or nothing. */
static const char mounted_dev_function[] =
	"mounted_dev() {\n"
	"\tawk -v m=\"$mnt\" '$5 == m { d = $3 } END { print d }' /proc/self/mountinfo\n"
	"}\n";

/* On failure: the reason and the device listing, on stderr. */
static const char fail_function[] =
	"fail() {\n"
	"\techo \"cargo-burst: $*\" >&2\n"
	"\techo 'cargo-burst: ls -l /dev/disk/by-id:' >&2\n"
	"\tls -l /dev/disk/by-id >&2 2>&1\n"
	"\techo 'cargo-burst: lsblk:' >&2\n"
	"\tlsblk >&2 2>&1\n"
	"\texit 1\n"
	"}\n";

void remote_mount_script(const char *device_path, const char *mount_point,
			 const char *owner, struct strbuf *out)
{
	strbuf_addstr(out, "#!/bin/sh\n# cargo-burst: mount the project volume\nset -u\ndev=");
	remote_shell_quote(out, device_path);
	strbuf_addstr(out, "\nmnt=");
	remote_shell_quote(out, mount_point);
	strbuf_addstr(out, "\nowner=");
	remote_shell_quote(out, owner ? owner : "");
	strbuf_addch(out, '\n');
	strbuf_addstr(out, mounted_dev_function);
	strbuf_addstr(out, fail_function);
	strbuf_addstr(out,
		/* Wait (bounded) for the device node: attach is asynchronous. */
		"end=$(( $(date +%s) + 30 ))\n"
		"while [ ! -b \"$dev\" ]; do\n"
		"\t[ \"$(date +%s)\" -ge \"$end\" ] && fail \"device $dev did not appear within 30 s\"\n"
		"\tsleep 0.1 2>/dev/null || sleep 1\n"
		"done\n"
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
