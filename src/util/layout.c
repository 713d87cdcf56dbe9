/* layout.c - the project value and the remote layout; see include/burst/layout.h. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "burst/layout.h"
#include "burst/sha256.h"

/* 12 hex digits of sha256(root). */
void project_hash(const char *root, char out[PROJECT_HASH_LEN + 1])
{
	sha256_hex(root, strlen(root), out, PROJECT_HASH_LEN);
}

/* root's hash, or that of "root\narch=arm64" for an arm64 build. */
void project_hash_arch(const char *root, const char *arch,
		       char out[PROJECT_HASH_LEN + 1])
{
	char *key;

	if (!arch || strcmp(arch, "arm64")) {
		project_hash(root, out);
		return;
	}
	key = xstrfmt("%s\narch=arm64", root);
	project_hash(key, out);
	free(key);
}

/* 12 hex digits of sha256(owner/hash). */
void project_volume_hash(const char *owner_id, const char *hash,
			 char out[PROJECT_HASH_LEN + 1])
{
	char *key = xstrfmt("%s/%s", owner_id, hash);

	sha256_hex(key, strlen(key), out, PROJECT_HASH_LEN);
	free(key);
}

/* Fill the project value of a workspace root. */
void project_init(struct burst_project *p, const char *root, const char *arch,
		  const char *owner_id)
{
	memset(p, 0, sizeof(*p));
	p->root = xstrdup(root);
	project_hash_arch(root, arch, p->hash);
	if (owner_id)
		project_volume_hash(owner_id, p->hash, p->volume_hash);
}

/* Free the project value's strings. */
void project_release(struct burst_project *p)
{
	if (!p)
		return;
	free(p->root);
	memset(p, 0, sizeof(*p));
}

/* /root/burst/H or .cache/cargo-burst/H. */
char *layout_project_dir(const char *hash, bool byo)
{
	return xstrfmt("%s/%s", byo ? LAYOUT_BYO_BASE : LAYOUT_REMOTE_BASE, hash);
}

/* <cache>/src: on the project's volume, or in the BYO project dir. */
char *layout_src_dir(const char *hash, bool byo)
{
	return xstrfmt("%s/%s/src", byo ? LAYOUT_BYO_BASE : LAYOUT_CACHE_BASE, hash);
}

/* /mnt/cache/H (the volume) or the BYO project dir. */
char *layout_cache_dir(const char *hash, bool byo)
{
	return xstrfmt("%s/%s", byo ? LAYOUT_BYO_BASE : LAYOUT_CACHE_BASE, hash);
}

/* <cache>/target. */
char *layout_target_dir(const char *hash, bool byo)
{
	return xstrfmt("%s/%s/target", byo ? LAYOUT_BYO_BASE : LAYOUT_CACHE_BASE, hash);
}

/* <cache>/sccache. */
char *layout_sccache_dir(const char *hash, bool byo)
{
	return xstrfmt("%s/%s/sccache", byo ? LAYOUT_BYO_BASE : LAYOUT_CACHE_BASE, hash);
}

/* <project dir>/cargo-<pid>.pid. */
char *layout_pid_file(const char *hash, bool byo, long pid)
{
	return xstrfmt("%s/%s/cargo-%ld.pid", byo ? LAYOUT_BYO_BASE : LAYOUT_REMOTE_BASE,
		       hash, pid);
}

/* /root/burst/H/shard-<pid>. */
char *layout_shard_dir(const char *hash, long pid)
{
	return xstrfmt("%s/%s/shard-%ld", LAYOUT_REMOTE_BASE, hash, pid);
}

/* <cache>/nextest/archive-<pid>.tar.zst. */
char *layout_nextest_archive(const char *hash, long pid)
{
	return xstrfmt("%s/%s/nextest/archive-%ld.tar.zst", LAYOUT_CACHE_BASE, hash, pid);
}

/* <state dir>/known_hosts. */
char *layout_known_hosts(const char *state_dir)
{
	return xstrfmt("%s/known_hosts", state_dir);
}

/* <state dir>/sync/<hash of remote_dir and root>.idx. */
char *layout_sync_index(const char *state_dir, const char *remote_dir, const char *root)
{
	char *key = xstrfmt("%s\n%s", remote_dir, root), hex[17], *path;

	sha256_hex(key, strlen(key), hex, 16);
	path = xstrfmt("%s/sync/%s.idx", state_dir, hex);
	free(key);
	return path;
}

/* <state dir>/cm, or a short /tmp path that fits sun_path. */
char *layout_control_dir(const char *state_dir)
{
	char hex[13];

	if (strlen(state_dir) + strlen("/cm/") + 8 < 100)
		return xstrfmt("%s/cm", state_dir);
	sha256_hex(state_dir, strlen(state_dir), hex, 12);
	return xstrfmt("/tmp/cargo-burst-%u-%s", (unsigned)getuid(), hex);
}
