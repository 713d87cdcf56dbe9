/*
 * provision.h - getting a server and the project's volume: names and labels
 * of everything we create, the image by label, the shared server with
 * location fallback, the project volume (created concurrently with the
 * server), attach, host key pinning and the wait for ssh.
 *
 * Everything we create carries the labels managed-by=cargo-burst,
 * owner=<state owner id>, role=server|volume and, on volumes,
 * project=<project hash>; the reapers and `down` find resources by them.
 */
#ifndef BURST_PROVISION_H
#define BURST_PROVISION_H

#include "burst/error.h"
#include "burst/util.h"

struct hcloud_labels;

/* Length of a project hash (hex digits). */
#define PROVISION_HASH_LEN 12
/* Hetzner's longest volume name. */
#define PROVISION_NAME_MAX 64

/* The short project id of an absolute workspace root (12 hex digits). */
void provision_project_hash(const char *root, char out[PROVISION_HASH_LEN + 1]);
/*
 * The project's volume name: "cargo-burst-<sanitised leaf>-<hash>", plus
 * "-<location>" when location is not NULL (a project that moved to another
 * location while its old volume still exists).  At most 64 characters of
 * [a-z0-9-], alphanumeric at both ends (allocated).
 */
char *provision_volume_name(const char *root, const char *hash,
			    const char *location);
/* The shared server's name: "cargo-burst-<owner>-<base36 time>" (allocated). */
char *provision_server_name(const char *owner_id, int64_t now);
/* The name of the user's ssh key in the API (allocated). */
char *provision_ssh_key_name(const char *owner_id, const char *fingerprint);
/*
 * Set our labels on l: managed-by, owner, role ("server", "volume") and,
 * when project_hash is not NULL, project.
 */
void provision_labels(struct hcloud_labels *l, const char *role,
		      const char *owner_id, const char *project_hash);
/* The labels as a JSON object, for intent rows (allocated). */
char *provision_labels_json(const struct hcloud_labels *l);

#endif
