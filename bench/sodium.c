/* The floor of the telehash case: libsodium crypto_box seal+open of the same payload, in one
 * process. Two figures: crypto_box_easy (each message does the X25519 key agreement, as a
 * handshake or a one-off message does) and crypto_box_easy_afternm (the shared key
 * precomputed, as every packet of an established channel does). */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "peers.h"

int peer_sodium(bool precomputed, size_t size, int warmup, int ops, double *lat, double *total_us) {
  if (sodium_init() < 0) return -1;
  unsigned char apk[crypto_box_PUBLICKEYBYTES], ask[crypto_box_SECRETKEYBYTES];
  unsigned char bpk[crypto_box_PUBLICKEYBYTES], bsk[crypto_box_SECRETKEYBYTES];
  unsigned char k_ab[crypto_box_BEFORENMBYTES], k_ba[crypto_box_BEFORENMBYTES];
  unsigned char nonce[crypto_box_NONCEBYTES];
  crypto_box_keypair(apk, ask);
  crypto_box_keypair(bpk, bsk);
  if (crypto_box_beforenm(k_ab, bpk, ask) != 0 || crypto_box_beforenm(k_ba, apk, bsk) != 0)
    return -1;
  unsigned char *msg = malloc(size), *sealed = malloc(size + crypto_box_MACBYTES),
                *opened = malloc(size);
  int rc = msg && sealed && opened ? 0 : -1;
  if (rc == 0) {
    memset(msg, 'x', size);
    double t0 = 0;
    for (int i = -warmup; i < ops && rc == 0; i++) {
      if (i == 0) t0 = peer_now_us();
      double s = peer_now_us();
      randombytes_buf(nonce, sizeof nonce);
      if (precomputed)
        rc = crypto_box_easy_afternm(sealed, msg, size, nonce, k_ab) ||
             crypto_box_open_easy_afternm(opened, sealed, size + crypto_box_MACBYTES, nonce, k_ba);
      else
        rc = crypto_box_easy(sealed, msg, size, nonce, bpk, ask) ||
             crypto_box_open_easy(opened, sealed, size + crypto_box_MACBYTES, nonce, apk, bsk);
      if (i >= 0) lat[i] = peer_now_us() - s;
    }
    *total_us = peer_now_us() - t0;
    if (rc == 0 && memcmp(msg, opened, size) != 0) rc = -1; /* the floor must be real work */
  }
  free(msg);
  free(sealed);
  free(opened);
  return rc ? -1 : 0;
}

/* The floor of a telehash channel packet: crypto_secretbox_easy + crypto_secretbox_open_easy of
 * the payload with a precomputed key and a fresh random nonce each, as a channel packet has. */
int peer_secretbox(size_t size, int warmup, int ops, double *lat, double *total_us) {
  if (sodium_init() < 0) return -1;
  unsigned char key[crypto_secretbox_KEYBYTES], nonce[crypto_secretbox_NONCEBYTES];
  crypto_secretbox_keygen(key);
  unsigned char *msg = malloc(size), *sealed = malloc(size + crypto_secretbox_MACBYTES),
                *opened = malloc(size);
  int rc = msg && sealed && opened ? 0 : -1;
  if (rc == 0) {
    memset(msg, 'x', size);
    double t0 = 0;
    for (int i = -warmup; i < ops && rc == 0; i++) {
      if (i == 0) t0 = peer_now_us();
      double s = peer_now_us();
      randombytes_buf(nonce, sizeof nonce);
      rc = crypto_secretbox_easy(sealed, msg, size, nonce, key) ||
           crypto_secretbox_open_easy(opened, sealed, size + crypto_secretbox_MACBYTES, nonce, key);
      if (i >= 0) lat[i] = peer_now_us() - s;
    }
    *total_us = peer_now_us() - t0;
    if (rc == 0 && memcmp(msg, opened, size) != 0) rc = -1;
  }
  free(msg);
  free(sealed);
  free(opened);
  return rc ? -1 : 0;
}
