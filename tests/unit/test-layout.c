/*
 * test-layout.c - the project value and the remote layout: every remote
 * path of a project, on a build server and on a BYO host, and the project
 * and volume hashes.
 */
#include <stdlib.h>
#include <string.h>

#include "../tap.h"
#include "burst/layout.h"
#include "burst/remote.h"
#include "burst/sha256.h"

static void check(char *got, const char *want, const char *what)
{
	is_str(got, want, "%s", what);
	free(got);
}

static void test_remote_paths(void)
{
	const char *h = "feedfeedfeed";

	check(layout_project_dir(h, false), "/root/burst/feedfeedfeed", "server: project dir");
	check(layout_src_dir(h, false), "/mnt/cache/feedfeedfeed/src", "server: source tree on the volume");
	check(layout_cache_dir(h, false), "/mnt/cache/feedfeedfeed", "server: the volume's mount point");
	check(layout_target_dir(h, false), "/mnt/cache/feedfeedfeed/target", "server: target on the volume");
	check(layout_sccache_dir(h, false), "/mnt/cache/feedfeedfeed/sccache", "server: sccache on the volume");
	check(layout_pid_file(h, false, 42), "/root/burst/feedfeedfeed/cargo-42.pid", "server: pid file");
	check(layout_shard_dir(h, 42), "/root/burst/feedfeedfeed/shard-42", "server: shard dir");
	check(layout_nextest_archive(h, 42), "/mnt/cache/feedfeedfeed/nextest/archive-42.tar.zst",
	      "server: the nextest archive on the volume");
	check(layout_project_dir(h, true), ".cache/cargo-burst/feedfeedfeed", "BYO: project dir");
	check(layout_src_dir(h, true), ".cache/cargo-burst/feedfeedfeed/src", "BYO: source tree");
	check(layout_cache_dir(h, true), ".cache/cargo-burst/feedfeedfeed", "BYO: the cache is the project dir");
	check(layout_target_dir(h, true), ".cache/cargo-burst/feedfeedfeed/target", "BYO: target");
	check(layout_sccache_dir(h, true), ".cache/cargo-burst/feedfeedfeed/sccache", "BYO: sccache");
	check(layout_pid_file(h, true, 7), ".cache/cargo-burst/feedfeedfeed/cargo-7.pid", "BYO: pid file");
	check(layout_known_hosts("/s"), "/s/known_hosts", "known_hosts under the state dir");
	check(layout_control_dir("/s"), "/s/cm", "control dir under the state dir");
}

static void test_project(void)
{
	struct burst_project p, q;
	char want[PROJECT_HASH_LEN + 1], vh[PROJECT_HASH_LEN + 1];
	const char *root = "/home/me/proj";

	sha256_hex(root, strlen(root), want, PROJECT_HASH_LEN);
	project_init(&p, root, NULL, "0123456789ab");
	is_str(p.root, root, "the root is kept");
	is_str(p.hash, want, "hash: sha256 of the root, 12 hex digits");
	project_volume_hash("0123456789ab", p.hash, vh);
	is_str(p.volume_hash, vh, "volume hash: of owner and project hash");
	ok(strcmp(p.volume_hash, p.hash) != 0, "... not the project hash");
	project_init(&q, root, NULL, "ba9876543210");
	is_str(q.hash, p.hash, "another owner: the same project hash");
	ok(strcmp(q.volume_hash, p.volume_hash) != 0, "... another volume hash");
	project_release(&q);
	project_init(&q, root, NULL, NULL);
	is_str(q.volume_hash, "", "no owner yet: no volume hash");
	project_release(&q);
	project_release(&p);
	project_release(NULL);
}

static void test_server_host(void)
{
	struct remote_host h;

	remote_host_server(&h, NULL, 0, NULL, "/s", "127.0.0.9");
	is_str(h.user, "root", "a server's user defaults to root");
	is_int(h.port, 0, "port 0 = 22");
	ok(!h.identity_file, "no key: ssh's default");
	is_str(h.known_hosts, "/s/known_hosts", "our known_hosts");
	is_str(h.host, "127.0.0.9", "the address");
	ok(!h.control_path && !h.user_known_hosts && !h.user_ssh_config, "nothing else set");
	remote_host_release(&h);
	remote_host_server(&h, "me", 2222, "/k/id", "/s", NULL);
	is_str(h.user, "me", "the configured user");
	is_int(h.port, 2222, "the configured port");
	is_str(h.identity_file, "/k/id", "the configured key");
	ok(!h.host, "no address yet");
	remote_host_release(&h);
}

int main(void)
{
	plan_lazy();
	test_remote_paths();
	test_project();
	test_server_host();
	return done_testing();
}
