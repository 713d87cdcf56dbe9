/*
 * sha256.h - a small SHA-256 (FIPS 180-4) for ids, not for security
 * decisions: the owner id of this machine's state and short project hashes.
 */
#ifndef BURST_SHA256_H
#define BURST_SHA256_H

#include "burst/util.h"

#define SHA256_DIGEST_LEN 32

struct sha256_ctx {
	uint32_t h[8];
	uint64_t total; /* bytes hashed so far */
	unsigned char block[64];
	size_t used; /* bytes pending in block */
};

/* Start a new hash. */
void sha256_init(struct sha256_ctx *c);
/* Hash len more bytes. */
void sha256_update(struct sha256_ctx *c, const void *data, size_t len);
/* Finish and write the 32-byte digest; c must be re-initialised to reuse. */
void sha256_final(struct sha256_ctx *c, unsigned char out[SHA256_DIGEST_LEN]);
/* One-shot digest of len bytes. */
void sha256_buf(const void *data, size_t len, unsigned char out[SHA256_DIGEST_LEN]);
/*
 * Write the first nhex lowercase hex digits (nhex <= 64) of SHA-256(data)
 * and a NUL into out (which must hold nhex + 1 bytes); returns out.
 */
char *sha256_hex(const void *data, size_t len, char *out, size_t nhex);

#endif
