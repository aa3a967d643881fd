/* telehash identities: the keys and hashname a bx peer is known by on the telehash transport.
 *
 * An identity is a Cipher Set 3a key pair (NaCl crypto_box: Curve25519) and the hashname made
 * from it (spec/telehash section 2): 52 lower-case base32 characters. Identity files use
 * telehash-js's JSON shape, so the same file works with the JavaScript reference:
 *   {"keys":{"3a":"<b32 public key>"},"secrets":{"3a":"<b32 secret key>"},"hashname":"<hn>"}
 * A file holds a secret key: bx writes it with mode 0600 and replaces it atomically. */
#ifndef BX_TELEHASH_H
#define BX_TELEHASH_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

#define BX_TH_KEY_BYTES 32    /* a CS3a public or secret key */
#define BX_TH_HASHNAME_LEN 52 /* characters of a hashname, without the NUL */

typedef struct bx_th_identity bx_th_identity; /* a key pair and its hashname */

/* Makes a fresh identity from libsodium's random generator. On success the caller owns *out
 * (free it with bx_th_identity_free()); on error *out is NULL. Returns 0, BX_EINVAL (out is
 * NULL), BX_ENOMEM or BX_ENOTSUP (libsodium could not initialise). */
BX_EXTERN int bx_th_identity_new(bx_th_identity **out);

/* Makes the identity of a known secret key (the public key is derived from it; for tests and
 * for keys kept elsewhere). secret is borrowed for the call. On success the caller owns *out;
 * on error *out is NULL. Returns 0, BX_EINVAL, BX_ENOMEM or BX_ENOTSUP. */
BX_EXTERN int bx_th_identity_from_secret(const uint8_t secret[BX_TH_KEY_BYTES],
                                         bx_th_identity **out);

/* Reads an identity file (path borrowed). On success the caller owns *out; on error *out is
 * NULL. Returns 0; BX_EINVAL (a NULL argument); a libuv code for a file that cannot be read
 * (UV_ENOENT, UV_EACCES ...); BX_EBADMSG for a file that is not an identity: not a JSON object
 * of the shape above, over 64 KiB, a key that is not 32 bytes of base32, a public key that does
 * not belong to the secret key, or a "hashname" (optional) that is not the key's; BX_ENOMEM. */
BX_EXTERN int bx_th_identity_load(const char *path, bx_th_identity **out);

/* Writes id to path (both borrowed) in the shape above, with mode 0600: into a temporary file
 * beside path, then renamed over it, so a reader sees the old file or the new one, never a
 * part. Returns 0, BX_EINVAL, BX_ENOMEM or a libuv code from the file system (then path is
 * as it was and no temporary file is left). */
BX_EXTERN int bx_th_identity_save(const bx_th_identity *id, const char *path);

/* Frees id and wipes its secret key; NULL is allowed. */
BX_EXTERN void bx_th_identity_free(bx_th_identity *id);

/* id's hashname: 52 characters and a NUL, owned by id (valid while id lives); NULL for a NULL
 * id. */
BX_EXTERN const char *bx_th_identity_hashname(const bx_th_identity *id);

/* id's CS3a public key: BX_TH_KEY_BYTES bytes owned by id (valid while id lives); NULL for a
 * NULL id. */
BX_EXTERN const uint8_t *bx_th_identity_public_key(const bx_th_identity *id);

/* The hashname of a CS3a-only peer whose public key is key (borrowed), written with a NUL into
 * out (caller's storage). Returns 0 or BX_EINVAL (a NULL argument). */
BX_EXTERN int bx_th_hashname_of_key(const uint8_t key[BX_TH_KEY_BYTES],
                                    char out[BX_TH_HASHNAME_LEN + 1]);

#ifdef __cplusplus
}
#endif
#endif /* BX_TELEHASH_H */
