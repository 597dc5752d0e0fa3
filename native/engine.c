/*
 * ipsecov2 batched ESP engine (issue 6): a small N-API addon over the OpenSSL that Node ships.
 *
 * One SA context per ESP SA: the EVP_CIPHER_CTX pair (encrypt, decrypt) and the HMAC_CTX are
 * keyed once; per packet only the IV is reset (EVP_*Init_ex(ctx, NULL, NULL, NULL, iv)) and the
 * HMAC is re-initialised with its kept key. `seal`/`open` take a batch of packets that live in
 * one Uint8Array (offsets, lengths, seqHigh as Uint32Arrays) and work in place: no per-packet
 * JavaScript objects.
 *
 * Packet layout (src/crypto/transform.ts):
 *   SPI(4) | Seq(4) | IV(ivLen) | payload | padding | padLength | nextHeader | ICV(icvLen)
 * Modes (src/crypto/esp.ts has the RFC references):
 *   0 NULL + HMAC, 1 CBC [+ HMAC], 2 AEAD (AES-GCM, ChaCha20-Poly1305), 3 NULL + AES-GMAC.
 * Open results: 0 ok, 1 icv-mismatch, 2 bad-length.
 */
#include <node_api.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/opensslv.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { MODE_NULL = 0, MODE_CBC = 1, MODE_AEAD = 2, MODE_GMAC = 3 };
enum { R_OK = 0, R_MISMATCH = 1, R_BAD_LENGTH = 2 };

typedef struct {
  int mode;
  int icv_len, iv_len, block, pad_align, esn;
  EVP_CIPHER_CTX *enc, *dec;
  HMAC_CTX *hmac;
  uint8_t salt[4];
  uint8_t *scratch;
  size_t scratch_len;
  int destroyed;
} Sa;

#define CHECK(call)                                                                        \
  do {                                                                                     \
    if ((call) != napi_ok) return NULL;                                                    \
  } while (0)

static napi_value throw_type(napi_env env, const char *msg) {
  napi_throw_type_error(env, NULL, msg);
  return NULL;
}
static napi_value throw_range(napi_env env, const char *msg) {
  napi_throw_range_error(env, NULL, msg);
  return NULL;
}

static void sa_free_contents(Sa *sa) {
  if (sa->enc) EVP_CIPHER_CTX_free(sa->enc);
  if (sa->dec) EVP_CIPHER_CTX_free(sa->dec);
  if (sa->hmac) HMAC_CTX_free(sa->hmac);
  if (sa->scratch) {
    OPENSSL_cleanse(sa->scratch, sa->scratch_len);
    free(sa->scratch);
  }
  OPENSSL_cleanse(sa->salt, sizeof sa->salt);
  sa->enc = sa->dec = NULL;
  sa->hmac = NULL;
  sa->scratch = NULL;
  sa->scratch_len = 0;
  sa->destroyed = 1;
}

static void sa_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  Sa *sa = (Sa *)data;
  sa_free_contents(sa);
  free(sa);
}

/* A typed array argument of the wanted type: data pointer and element count. */
static int typed(napi_env env, napi_value v, napi_typedarray_type want, void **data, size_t *len) {
  bool is = false;
  if (napi_is_typedarray(env, v, &is) != napi_ok || !is) return 0;
  napi_typedarray_type t;
  napi_value ab;
  size_t off;
  if (napi_get_typedarray_info(env, v, &t, len, data, &ab, &off) != napi_ok) return 0;
  return t == want;
}

static int get_u32(napi_env env, napi_value v, uint32_t *out) {
  return napi_get_value_uint32(env, v, out) == napi_ok;
}

static Sa *get_sa(napi_env env, napi_value v) {
  void *p = NULL;
  if (napi_get_value_external(env, v, &p) != napi_ok || p == NULL) return NULL;
  return (Sa *)p;
}

static int key_cipher(EVP_CIPHER_CTX *ctx, const EVP_CIPHER *c, const uint8_t *key, int enc,
                      int aead, int pad_off) {
  if (!EVP_CipherInit_ex(ctx, c, NULL, NULL, NULL, enc)) return 0;
  if (aead && !EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_IVLEN, 12, NULL)) return 0;
  if ((size_t)EVP_CIPHER_CTX_key_length(ctx) == 0) return 0;
  if (!EVP_CipherInit_ex(ctx, NULL, NULL, key, NULL, enc)) return 0;
  if (pad_off) EVP_CIPHER_CTX_set_padding(ctx, 0);
  return 1;
}

/*
 * createSa(mode, cipherName, cipherKey, salt, digestName, macKey, icvLen, ivLen, blockSize,
 *          padAlign, esn) -> External
 */
static napi_value create_sa(napi_env env, napi_callback_info info) {
  size_t argc = 11;
  napi_value argv[11];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 11) return throw_type(env, "engine.createSa: expected 11 arguments");
  uint32_t mode, icv_len, iv_len, block, pad_align;
  bool esn;
  char cname[64], dname[32];
  size_t n;
  void *ckey, *salt, *mkey;
  size_t ckey_len, salt_len, mkey_len;
  if (!get_u32(env, argv[0], &mode) || mode > 3) return throw_type(env, "engine.createSa: mode");
  if (napi_get_value_string_utf8(env, argv[1], cname, sizeof cname, &n) != napi_ok)
    return throw_type(env, "engine.createSa: cipherName");
  if (!typed(env, argv[2], napi_uint8_array, &ckey, &ckey_len) ||
      !typed(env, argv[3], napi_uint8_array, &salt, &salt_len) ||
      !typed(env, argv[5], napi_uint8_array, &mkey, &mkey_len))
    return throw_type(env, "engine.createSa: keys must be Uint8Arrays");
  if (napi_get_value_string_utf8(env, argv[4], dname, sizeof dname, &n) != napi_ok)
    return throw_type(env, "engine.createSa: digestName");
  if (!get_u32(env, argv[6], &icv_len) || !get_u32(env, argv[7], &iv_len) ||
      !get_u32(env, argv[8], &block) || !get_u32(env, argv[9], &pad_align) ||
      napi_get_value_bool(env, argv[10], &esn) != napi_ok)
    return throw_type(env, "engine.createSa: geometry");
  if (icv_len > 64 || iv_len > 16 || block == 0 || pad_align == 0 || salt_len > 4 ||
      ((mode == MODE_AEAD || mode == MODE_GMAC) && (salt_len != 4 || iv_len != 8)))
    return throw_range(env, "engine.createSa: geometry out of range");

  Sa *sa = (Sa *)calloc(1, sizeof(Sa));
  if (!sa) return throw_range(env, "engine.createSa: out of memory");
  sa->mode = (int)mode;
  sa->icv_len = (int)icv_len;
  sa->iv_len = (int)iv_len;
  sa->block = (int)block;
  sa->pad_align = (int)pad_align;
  sa->esn = esn ? 1 : 0;
  if (salt_len) memcpy(sa->salt, salt, 4);

  const char *fail = NULL;
  if (mode != MODE_NULL) {
    const EVP_CIPHER *c = EVP_get_cipherbyname(cname);
    if (!c) fail = "engine.createSa: cipher not available";
    else if ((size_t)EVP_CIPHER_key_length(c) != ckey_len && mode != MODE_AEAD)
      fail = "engine.createSa: cipher key length";
    else {
      int aead = mode == MODE_AEAD || mode == MODE_GMAC;
      sa->enc = EVP_CIPHER_CTX_new();
      sa->dec = EVP_CIPHER_CTX_new();
      if (!sa->enc || !sa->dec || !key_cipher(sa->enc, c, ckey, 1, aead, !aead) ||
          !key_cipher(sa->dec, c, ckey, 0, aead, !aead))
        fail = "engine.createSa: cipher init failed";
    }
  }
  if (!fail && dname[0] != '\0') {
    const EVP_MD *md = EVP_get_digestbyname(dname);
    if (!md) fail = "engine.createSa: digest not available";
    else if ((int)icv_len > EVP_MD_size(md)) fail = "engine.createSa: icv longer than digest";
    else {
      sa->hmac = HMAC_CTX_new();
      if (!sa->hmac || !HMAC_Init_ex(sa->hmac, mkey, (int)mkey_len, md, NULL))
        fail = "engine.createSa: HMAC init failed";
    }
  }
  if (fail) {
    sa_free_contents(sa);
    free(sa);
    return throw_range(env, fail);
  }
  napi_value ext;
  if (napi_create_external(env, sa, sa_finalize, NULL, &ext) != napi_ok) {
    sa_free_contents(sa);
    free(sa);
    return NULL;
  }
  return ext;
}

static napi_value destroy_sa(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  Sa *sa = argc ? get_sa(env, argv[0]) : NULL;
  if (!sa) return throw_type(env, "engine.destroySa: expected an SA");
  sa_free_contents(sa);
  return NULL;
}

static void put_be32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}

/* RFC 4106 §5: SPI | Seq, or SPI | seqHigh | seqLow with ESN. Returns the AAD length. */
static int aead_aad(const Sa *sa, const uint8_t *pkt, uint32_t high, uint8_t aad[12]) {
  memcpy(aad, pkt, 4);
  if (!sa->esn) {
    memcpy(aad + 4, pkt + 4, 4);
    return 8;
  }
  put_be32(aad + 4, high);
  memcpy(aad + 8, pkt + 4, 4);
  return 12;
}

/* Truncated HMAC over pkt[0 .. body_end) | [seqHigh] into out (icv_len bytes). */
static int do_hmac(Sa *sa, const uint8_t *pkt, size_t body_end, uint32_t high, uint8_t *out) {
  uint8_t md[EVP_MAX_MD_SIZE];
  unsigned int mdlen = 0;
  if (!HMAC_Init_ex(sa->hmac, NULL, 0, NULL, NULL)) return 0;
  if (!HMAC_Update(sa->hmac, pkt, body_end)) return 0;
  if (sa->esn) {
    uint8_t h[4];
    put_be32(h, high);
    if (!HMAC_Update(sa->hmac, h, 4)) return 0;
  }
  if (!HMAC_Final(sa->hmac, md, &mdlen)) return 0;
  memcpy(out, md, (size_t)sa->icv_len);
  OPENSSL_cleanse(md, sizeof md);
  return 1;
}

/* GMAC AAD (RFC 4543 §3.3): SPI | [seqHigh] | seqLow | IV | payload ... next header. */
static int gmac_aad(Sa *sa, EVP_CIPHER_CTX *ctx, const uint8_t *pkt, size_t body_end,
                    uint32_t high) {
  int n;
  if (!sa->esn) return EVP_CipherUpdate(ctx, NULL, &n, pkt, (int)body_end);
  uint8_t h[4];
  put_be32(h, high);
  return EVP_CipherUpdate(ctx, NULL, &n, pkt, 4) && EVP_CipherUpdate(ctx, NULL, &n, h, 4) &&
         EVP_CipherUpdate(ctx, NULL, &n, pkt + 4, (int)body_end - 4);
}

/* Seals one packet; returns 1 on success, 0 on an OpenSSL failure. */
static int seal_one(Sa *sa, uint8_t *pkt, size_t len, uint32_t high, int iv_present) {
  size_t body_start = 8 + (size_t)sa->iv_len;
  size_t body_end = len - (size_t)sa->icv_len;
  size_t body_len = body_end - body_start;
  uint8_t *iv = pkt + 8, *body = pkt + body_start, *icv = pkt + body_end;
  uint8_t nonce[12], aad[12], fin[64];
  int n = 0, m = 0;
  if (!iv_present && (sa->mode == MODE_AEAD || sa->mode == MODE_GMAC)) {
    put_be32(iv, sa->esn ? high : 0); /* contract D6: IV = seqHigh | seqLow */
    memcpy(iv + 4, pkt + 4, 4);
  }
  switch (sa->mode) {
    case MODE_NULL:
      return do_hmac(sa, pkt, body_end, high, icv);
    case MODE_CBC:
      if (!EVP_EncryptInit_ex(sa->enc, NULL, NULL, NULL, iv)) return 0;
      EVP_CIPHER_CTX_set_padding(sa->enc, 0);
      if (!EVP_EncryptUpdate(sa->enc, body, &n, body, (int)body_len)) return 0;
      if (!EVP_EncryptFinal_ex(sa->enc, fin, &m) || (size_t)n != body_len || m != 0) return 0;
      return sa->hmac ? do_hmac(sa, pkt, body_end, high, icv) : 1;
    case MODE_AEAD: {
      memcpy(nonce, sa->salt, 4);
      memcpy(nonce + 4, iv, 8);
      int alen = aead_aad(sa, pkt, high, aad);
      if (!EVP_EncryptInit_ex(sa->enc, NULL, NULL, NULL, nonce)) return 0;
      if (!EVP_EncryptUpdate(sa->enc, NULL, &n, aad, alen)) return 0;
      if (!EVP_EncryptUpdate(sa->enc, body, &n, body, (int)body_len)) return 0;
      if (!EVP_EncryptFinal_ex(sa->enc, fin, &m)) return 0;
      return EVP_CIPHER_CTX_ctrl(sa->enc, EVP_CTRL_AEAD_GET_TAG, sa->icv_len, icv) > 0;
    }
    case MODE_GMAC:
      memcpy(nonce, sa->salt, 4);
      memcpy(nonce + 4, iv, 8);
      if (!EVP_EncryptInit_ex(sa->enc, NULL, NULL, NULL, nonce)) return 0;
      if (!gmac_aad(sa, sa->enc, pkt, body_end, high)) return 0;
      if (!EVP_EncryptFinal_ex(sa->enc, fin, &m)) return 0;
      return EVP_CIPHER_CTX_ctrl(sa->enc, EVP_CTRL_AEAD_GET_TAG, 16, icv) > 0;
  }
  return 0;
}

static int grow_scratch(Sa *sa, size_t need) {
  if (sa->scratch_len >= need) return 1;
  if (sa->scratch) {
    OPENSSL_cleanse(sa->scratch, sa->scratch_len);
    free(sa->scratch);
  }
  sa->scratch = (uint8_t *)malloc(need);
  sa->scratch_len = sa->scratch ? need : 0;
  return sa->scratch != NULL;
}

/* Opens one packet: R_OK, R_MISMATCH or R_BAD_LENGTH; -1 on an OpenSSL failure. */
static int open_one(Sa *sa, uint8_t *pkt, size_t len, uint32_t high) {
  size_t body_start = 8 + (size_t)sa->iv_len;
  if (len < body_start + (size_t)sa->icv_len + 2) return R_BAD_LENGTH;
  size_t body_end = len - (size_t)sa->icv_len;
  size_t body_len = body_end - body_start;
  if (body_len < 2 || body_len % (size_t)sa->block != 0) return R_BAD_LENGTH;
  uint8_t *iv = pkt + 8, *body = pkt + body_start, *icv = pkt + body_end;
  uint8_t nonce[12], aad[12], fin[64], mac[EVP_MAX_MD_SIZE];
  int n = 0, m = 0;
  switch (sa->mode) {
    case MODE_NULL:
      if (!do_hmac(sa, pkt, body_end, high, mac)) return -1;
      return CRYPTO_memcmp(mac, icv, (size_t)sa->icv_len) == 0 ? R_OK : R_MISMATCH;
    case MODE_CBC:
      if (sa->hmac) {
        if (!do_hmac(sa, pkt, body_end, high, mac)) return -1;
        if (CRYPTO_memcmp(mac, icv, (size_t)sa->icv_len) != 0) return R_MISMATCH;
      }
      if (!EVP_DecryptInit_ex(sa->dec, NULL, NULL, NULL, iv)) return -1;
      EVP_CIPHER_CTX_set_padding(sa->dec, 0);
      if (!EVP_DecryptUpdate(sa->dec, body, &n, body, (int)body_len)) return -1;
      if (!EVP_DecryptFinal_ex(sa->dec, fin, &m) || (size_t)n != body_len) return -1;
      return R_OK;
    case MODE_AEAD: {
      if (!grow_scratch(sa, body_len + 64)) return -1;
      memcpy(nonce, sa->salt, 4);
      memcpy(nonce + 4, iv, 8);
      int alen = aead_aad(sa, pkt, high, aad);
      uint8_t tag[16];
      memcpy(tag, icv, (size_t)sa->icv_len);
      if (!EVP_DecryptInit_ex(sa->dec, NULL, NULL, NULL, nonce)) return -1;
      if (!EVP_DecryptUpdate(sa->dec, NULL, &n, aad, alen)) return -1;
      if (!EVP_DecryptUpdate(sa->dec, sa->scratch, &n, body, (int)body_len)) return -1;
      if (!EVP_CIPHER_CTX_ctrl(sa->dec, EVP_CTRL_AEAD_SET_TAG, sa->icv_len, tag)) return -1;
      int ok = EVP_DecryptFinal_ex(sa->dec, sa->scratch + n, &m) > 0;
      if (ok) memcpy(body, sa->scratch, body_len); /* never release unverified plaintext */
      OPENSSL_cleanse(sa->scratch, body_len);
      return ok ? R_OK : R_MISMATCH;
    }
    case MODE_GMAC: {
      uint8_t tag[16];
      memcpy(tag, icv, 16);
      memcpy(nonce, sa->salt, 4);
      memcpy(nonce + 4, iv, 8);
      if (!EVP_DecryptInit_ex(sa->dec, NULL, NULL, NULL, nonce)) return -1;
      if (!gmac_aad(sa, sa->dec, pkt, body_end, high)) return -1;
      if (!EVP_CIPHER_CTX_ctrl(sa->dec, EVP_CTRL_AEAD_SET_TAG, 16, tag)) return -1;
      return EVP_DecryptFinal_ex(sa->dec, fin, &m) > 0 ? R_OK : R_MISMATCH;
    }
  }
  return -1;
}

typedef struct {
  Sa *sa;
  uint8_t *buf;
  size_t buf_len;
  uint32_t *off, *len, *high;
  uint32_t count;
} Batch;

/* (sa, buf: Uint8Array, offsets, lengths, seqHigh: Uint32Array, count) */
static int get_batch(napi_env env, napi_value *argv, const char *where, Batch *b) {
  char msg[160];
  size_t n_off, n_len, n_high;
  b->sa = get_sa(env, argv[0]);
  if (!b->sa) {
    snprintf(msg, sizeof msg, "%s: expected an SA", where);
    napi_throw_type_error(env, NULL, msg);
    return 0;
  }
  if (b->sa->destroyed) {
    snprintf(msg, sizeof msg, "%s: expected a live SA, got one ended by destroySa()", where);
    napi_throw_type_error(env, NULL, msg);
    return 0;
  }
  if (!typed(env, argv[1], napi_uint8_array, (void **)&b->buf, &b->buf_len) ||
      !typed(env, argv[2], napi_uint32_array, (void **)&b->off, &n_off) ||
      !typed(env, argv[3], napi_uint32_array, (void **)&b->len, &n_len) ||
      !typed(env, argv[4], napi_uint32_array, (void **)&b->high, &n_high) ||
      !get_u32(env, argv[5], &b->count)) {
    snprintf(msg, sizeof msg, "%s: expected (sa, Uint8Array, Uint32Array x3, count)", where);
    napi_throw_type_error(env, NULL, msg);
    return 0;
  }
  if (b->count > n_off || b->count > n_len || b->count > n_high) {
    snprintf(msg, sizeof msg, "%s: count exceeds the offsets/lengths/seqHigh arrays", where);
    napi_throw_range_error(env, NULL, msg);
    return 0;
  }
  for (uint32_t i = 0; i < b->count; i++) {
    if ((uint64_t)b->off[i] + b->len[i] > b->buf_len) {
      snprintf(msg, sizeof msg, "%s: packet %u lies outside the buffer", where, i);
      napi_throw_range_error(env, NULL, msg);
      return 0;
    }
  }
  return 1;
}

/* seal(sa, buf, offsets, lengths, seqHigh, count, ivPresent) */
static napi_value seal(napi_env env, napi_callback_info info) {
  size_t argc = 7;
  napi_value argv[7];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 7) return throw_type(env, "engine.seal: expected 7 arguments");
  Batch b;
  if (!get_batch(env, argv, "engine.seal", &b)) return NULL;
  bool iv_present;
  if (napi_get_value_bool(env, argv[6], &iv_present) != napi_ok)
    return throw_type(env, "engine.seal: ivPresent");
  Sa *sa = b.sa;
  size_t fixed = 8 + (size_t)sa->iv_len + (size_t)sa->icv_len;
  for (uint32_t i = 0; i < b.count; i++) { /* geometry first: nothing is sealed on a bad batch */
    size_t l = b.len[i];
    if (l < fixed + 2 || (l - fixed) % (size_t)sa->pad_align != 0)
      return throw_range(env, "engine.seal: a packet does not fit the SA's geometry");
  }
  for (uint32_t i = 0; i < b.count; i++) {
    if (!seal_one(sa, b.buf + b.off[i], b.len[i], b.high[i], iv_present))
      return throw_range(env, "engine.seal: OpenSSL failed");
  }
  return NULL;
}

/* open(sa, buf, offsets, lengths, seqHigh, count, results: Uint8Array) */
static napi_value open_(napi_env env, napi_callback_info info) {
  size_t argc = 7;
  napi_value argv[7];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 7) return throw_type(env, "engine.open: expected 7 arguments");
  Batch b;
  if (!get_batch(env, argv, "engine.open", &b)) return NULL;
  uint8_t *res;
  size_t n_res;
  if (!typed(env, argv[6], napi_uint8_array, (void **)&res, &n_res) || n_res < b.count)
    return throw_type(env, "engine.open: expected a results Uint8Array of count bytes");
  for (uint32_t i = 0; i < b.count; i++) {
    int r = open_one(b.sa, b.buf + b.off[i], b.len[i], b.high[i]);
    if (r < 0) return throw_range(env, "engine.open: OpenSSL failed");
    res[i] = (uint8_t)r;
  }
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"createSa", NULL, create_sa, NULL, NULL, NULL, napi_enumerable, NULL},
      {"destroySa", NULL, destroy_sa, NULL, NULL, NULL, napi_enumerable, NULL},
      {"seal", NULL, seal, NULL, NULL, NULL, napi_enumerable, NULL},
      {"open", NULL, open_, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  CHECK(napi_define_properties(env, exports, sizeof props / sizeof props[0], props));
  napi_value v;
  CHECK(napi_create_string_utf8(env, OPENSSL_VERSION_TEXT, NAPI_AUTO_LENGTH, &v));
  CHECK(napi_set_named_property(env, exports, "openssl", v));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
