/* telehash identities (bx/telehash.h): a CS3a key pair, its hashname, and identity files.
 *
 * Design notes
 * - The file shape is telehash-js's: {"keys":{"3a":..},"secrets":{"3a":..},"hashname":..}, keys
 *   in base32. bx speaks only cipher set 3a, so a file with other CSIDs is BX_ENOTSUP rather
 *   than an identity whose hashname (rolled up over every CSID) its handshakes could not prove.
 * - Loading trusts nothing: the file is read whole only up to 64 KiB, the public key must be
 *   the secret key's, and a "hashname" in the file must be the key's. "hashname" may be absent.
 * - Saving writes a temporary file beside the target (mkstemp: mode 0600 from the start),
 *   fsyncs it, renames it over the target and fsyncs the directory, so the target is always
 *   the old file or the new one, and a secret key is never readable by others even briefly.
 *   The text is made with snprintf into a stack buffer that is wiped after; the file read is
 *   wiped before it is freed, and so are the secret's base32 in the cJSON tree.
 * - This file does blocking file I/O: identities are loaded and saved at start-up, not on the
 *   loop's hot path.
 */
#include "th_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <sys/stat.h>
#include <unistd.h>

#define ID_MAX_FILE (64 * 1024)

struct bx_th_identity {
  uint8_t pk[BX__TH_KEY];
  uint8_t sk[BX__TH_KEY];
  char hashname[BX_TH_HASHNAME_LEN + 1];
};

static int id_make(const uint8_t *sk, bx_th_identity **out) {
  bx_th_identity *id = malloc(sizeof *id);
  if (id == NULL) return BX_ENOMEM;
  if (sk != NULL) {
    memcpy(id->sk, sk, BX__TH_KEY);
    crypto_scalarmult_base(id->pk, id->sk);
  } else {
    crypto_box_keypair(id->pk, id->sk);
  }
  bx_th_hashname_of_key(id->pk, id->hashname);
  *out = id;
  return 0;
}

int bx_th_identity_new(bx_th_identity **out) {
  if (out == NULL) return BX_EINVAL;
  *out = NULL;
  int rc = bx__th_sodium();
  return rc != 0 ? rc : id_make(NULL, out);
}

int bx_th_identity_from_secret(const uint8_t secret[BX_TH_KEY_BYTES], bx_th_identity **out) {
  if (out == NULL) return BX_EINVAL;
  *out = NULL;
  if (secret == NULL) return BX_EINVAL;
  int rc = bx__th_sodium();
  return rc != 0 ? rc : id_make(secret, out);
}

void bx_th_identity_free(bx_th_identity *id) {
  if (id == NULL) return;
  sodium_memzero(id, sizeof *id);
  free(id);
}

const char *bx_th_identity_hashname(const bx_th_identity *id) {
  return id != NULL ? id->hashname : NULL;
}

const uint8_t *bx_th_identity_public_key(const bx_th_identity *id) {
  return id != NULL ? id->pk : NULL;
}

const uint8_t *bx__th_identity_secret(const bx_th_identity *id) {
  return id != NULL ? id->sk : NULL;
}

/* ---- loading ----------------------------------------------------------------------------- */

static int id_errno(void) {
  return uv_translate_sys_error(errno);
}

/* Reads the whole file into *buf (malloc'd, its size in *len). */
static int id_read(const char *path, char **buf, size_t *len) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return id_errno();
  struct stat st;
  int rc = 0;
  if (fstat(fd, &st) != 0)
    rc = id_errno();
  else if (!S_ISREG(st.st_mode) || st.st_size > ID_MAX_FILE)
    rc = BX_EBADMSG;
  char *b = rc == 0 ? malloc((size_t)st.st_size + 1) : NULL;
  if (rc == 0 && b == NULL) rc = BX_ENOMEM;
  size_t got = 0;
  while (rc == 0 && got < (size_t)st.st_size) {
    ssize_t n = read(fd, b + got, (size_t)st.st_size - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) rc = id_errno();
    if (n == 0) break; /* the file shrank meanwhile: parse what there is */
    if (n > 0) got += (size_t)n;
  }
  close(fd);
  if (rc != 0) {
    if (b != NULL) sodium_memzero(b, (size_t)st.st_size);
    free(b);
    return rc;
  }
  *buf = b;
  *len = got;
  return 0;
}

/* The 32 bytes of obj["3a"] (base32), obj having no other CSID. */
static int id_key(const cJSON *obj, uint8_t key[BX__TH_KEY]) {
  if (!cJSON_IsObject(obj)) return BX_EBADMSG;
  const cJSON *b32 = NULL;
  for (const cJSON *it = obj->child; it != NULL; it = it->next) {
    if (it->string == NULL || strcmp(it->string, "3a") != 0) return BX_ENOTSUP;
    b32 = it;
  }
  if (!cJSON_IsString(b32)) return BX_EBADMSG;
  size_t len = 0;
  int rc = bx__th_b32_decode(b32->valuestring, strlen(b32->valuestring), key, BX__TH_KEY, &len);
  return rc != 0 || len != BX__TH_KEY ? BX_EBADMSG : 0;
}

static void id_wipe_secrets(cJSON *root) {
  cJSON *secrets = cJSON_GetObjectItemCaseSensitive(root, "secrets");
  for (cJSON *it = cJSON_IsObject(secrets) ? secrets->child : NULL; it; it = it->next)
    if (cJSON_IsString(it)) sodium_memzero(it->valuestring, strlen(it->valuestring));
}

static int id_parse(const char *text, size_t len, bx_th_identity **out) {
  cJSON *root = cJSON_ParseWithLength(text, len);
  if (!cJSON_IsObject(root)) {
    cJSON_Delete(root);
    return BX_EBADMSG;
  }
  uint8_t pk[BX__TH_KEY], sk[BX__TH_KEY];
  int rc = id_key(cJSON_GetObjectItemCaseSensitive(root, "keys"), pk);
  if (rc == 0) rc = id_key(cJSON_GetObjectItemCaseSensitive(root, "secrets"), sk);
  bx_th_identity *id = NULL;
  if (rc == 0) rc = id_make(sk, &id);
  if (rc == 0 && sodium_memcmp(id->pk, pk, BX__TH_KEY) != 0) rc = BX_EBADMSG;
  const cJSON *hn = cJSON_GetObjectItemCaseSensitive(root, "hashname");
  if (rc == 0 && hn != NULL && (!cJSON_IsString(hn) || strcmp(hn->valuestring, id->hashname)))
    rc = BX_EBADMSG;
  id_wipe_secrets(root);
  cJSON_Delete(root);
  sodium_memzero(sk, sizeof sk);
  if (rc != 0) {
    bx_th_identity_free(id);
    return rc;
  }
  *out = id;
  return 0;
}

int bx_th_identity_load(const char *path, bx_th_identity **out) {
  if (out == NULL) return BX_EINVAL;
  *out = NULL;
  if (path == NULL) return BX_EINVAL;
  int rc = bx__th_sodium();
  char *text = NULL;
  size_t len = 0;
  if (rc == 0) rc = id_read(path, &text, &len);
  if (rc != 0) return rc;
  rc = id_parse(text, len, out);
  sodium_memzero(text, len);
  free(text);
  return rc;
}

/* ---- saving ------------------------------------------------------------------------------ */

static int id_write_all(int fd, const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) return id_errno();
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

/* fsync of path's directory, so that the rename lasts; best effort. */
static void id_sync_dir(const char *path) {
  char *copy = bx__strdup(path);
  if (copy == NULL) return;
  int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    (void)fsync(fd);
    close(fd);
  }
  free(copy);
}

static int id_text(const bx_th_identity *id, char *buf, size_t cap) {
  char pk[BX_TH_HASHNAME_LEN + 1], sk[BX_TH_HASHNAME_LEN + 1];
  bx__th_b32_encode(id->pk, BX__TH_KEY, pk);
  bx__th_b32_encode(id->sk, BX__TH_KEY, sk);
  int n = snprintf(buf, cap,
                   "{\"keys\":{\"3a\":\"%s\"},\"secrets\":{\"3a\":\"%s\"},\"hashname\":\"%s\"}\n",
                   pk, sk, id->hashname);
  sodium_memzero(sk, sizeof sk);
  return n;
}

int bx_th_identity_save(const bx_th_identity *id, const char *path) {
  if (id == NULL || path == NULL) return BX_EINVAL;
  size_t plen = strlen(path);
  char *tmp = malloc(plen + sizeof ".XXXXXX");
  if (tmp == NULL) return BX_ENOMEM;
  memcpy(tmp, path, plen);
  memcpy(tmp + plen, ".XXXXXX", sizeof ".XXXXXX");
  int fd = mkstemp(tmp); /* mode 0600 */
  if (fd < 0) {
    int rc = id_errno();
    free(tmp);
    return rc;
  }
  char text[256];
  int n = id_text(id, text, sizeof text);
  int rc = n > 0 && (size_t)n < sizeof text ? 0 : BX_EINVAL;
  if (rc == 0 && fchmod(fd, S_IRUSR | S_IWUSR) != 0) rc = id_errno();
  if (rc == 0) rc = id_write_all(fd, text, (size_t)n);
  if (rc == 0 && fsync(fd) != 0) rc = id_errno();
  sodium_memzero(text, sizeof text);
  if (close(fd) != 0 && rc == 0) rc = id_errno();
  if (rc == 0 && rename(tmp, path) != 0) rc = id_errno();
  if (rc != 0)
    unlink(tmp);
  else
    id_sync_dir(path);
  free(tmp);
  return rc;
}
