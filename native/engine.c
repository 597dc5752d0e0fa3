/*
 * ipsecov2 batched ESP engine (issue 6): a small N-API addon over the OpenSSL that Node ships.
 *
 * One SA context per ESP SA: the EVP_CIPHER_CTX pair (encrypt, decrypt) and the HMAC_CTX are
 * keyed once; per packet only the IV is reset (EVP_*Init_ex(ctx, NULL, NULL, NULL, iv)) and the
 * HMAC is re-initialised with its kept key. `seal`/`open` take a batch of packets that live in
 * one Uint8Array (offsets, lengths, seqHigh as Uint32Arrays) and work in place: no per-packet
 * JavaScript objects. `sealWithChecksums` is `seal` with an optional checksum job per packet: the
 * NIC's checksum engine finishes a TCP checksum inside the packet (RFC 1071) just before that
 * packet is encrypted, so an LSO segment costs one native call, not two (src/miniport/lso.ts).
 *
 * Packet layout (src/crypto/transform.ts):
 *   SPI(4) | Seq(4) | IV(ivLen) | payload | padding | padLength | nextHeader | ICV(icvLen)
 * Modes (src/crypto/esp.ts has the RFC references):
 *   0 NULL + HMAC, 1 CBC [+ HMAC], 2 AEAD (AES-GCM, ChaCha20-Poly1305), 3 NULL + AES-GMAC.
 * Open results: 0 ok, 1 icv-mismatch, 2 bad-length.
 *
 * AH (RFC 4302) has its own SA kind: `authCreate` keys one HMAC (HMAC-MD5/SHA-1/SHA-2 as the
 * two hash states after the key's ipad and opad blocks, RFC 2104 §2, copied per packet: no
 * allocation, no provider dispatch) or one AES-GCM EVP_CIPHER_CTX (AES-GMAC, RFC 4543 §4: keyed
 * once, only the nonce reset); `authCompute`/`authVerify` take one prepared ICV input (wire/ah
 * icvInput) and only typed arrays and numbers, so a per-packet call stays cheap. The ESN high
 * half is appended after the ICV input (RFC 4302 §2.5.1; for GMAC it ends the AAD, §4).
 */
#include <node_api.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/md5.h>
#include <openssl/opensslv.h>
#include <openssl/sha.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { MODE_NULL = 0, MODE_CBC = 1, MODE_AEAD = 2, MODE_GMAC = 3 };
enum { R_OK = 0, R_MISMATCH = 1, R_BAD_LENGTH = 2 };
enum { KIND_ESP = 0, KIND_AH = 1 };
enum { AUTH_HMAC = 0, AUTH_GMAC = 1 };

/*
 * HMAC (RFC 2104 §2) over the hash functions' own states: H(K ^ opad, H(K ^ ipad, text)). The
 * states after absorbing the one block K ^ ipad and K ^ opad are kept; a packet copies them
 * (a struct copy) instead of HMAC_Init_ex's provider context duplication.
 */
enum { H_MD5 = 0, H_SHA1 = 1, H_SHA256 = 2, H_SHA384 = 3, H_SHA512 = 4 };
typedef union {
  MD5_CTX md5;
  SHA_CTX sha1;
  SHA256_CTX sha256;
  SHA512_CTX sha512; /* also SHA-384 */
} HashState;
typedef struct {
  int hash;      /* H_* */
  size_t block;  /* input block bytes: 64, or 128 for SHA-384/512 */
  size_t digest; /* output bytes */
  HashState inner, outer;
} RawHmac;

static void hash_init(int hash, HashState *s) {
  switch (hash) {
    case H_MD5: MD5_Init(&s->md5); break;
    case H_SHA1: SHA1_Init(&s->sha1); break;
    case H_SHA256: SHA256_Init(&s->sha256); break;
    case H_SHA384: SHA384_Init(&s->sha512); break;
    default: SHA512_Init(&s->sha512); break;
  }
}
static void hash_update(int hash, HashState *s, const uint8_t *p, size_t n) {
  switch (hash) {
    case H_MD5: MD5_Update(&s->md5, p, n); break;
    case H_SHA1: SHA1_Update(&s->sha1, p, n); break;
    case H_SHA256: SHA256_Update(&s->sha256, p, n); break;
    default: SHA512_Update(&s->sha512, p, n); break; /* SHA384_Update is SHA512_Update */
  }
}
static void hash_final(int hash, HashState *s, uint8_t *md) {
  switch (hash) {
    case H_MD5: MD5_Final(md, &s->md5); break;
    case H_SHA1: SHA1_Final(md, &s->sha1); break;
    case H_SHA256: SHA256_Final(md, &s->sha256); break;
    case H_SHA384: SHA384_Final(md, &s->sha512); break;
    default: SHA512_Final(md, &s->sha512); break;
  }
}

/* The hash of a digest name as node:crypto spells it, or -1. */
static int hash_by_name(const char *name, size_t *block, size_t *digest) {
  static const struct { const char *name; int hash; size_t block, digest; } T[] = {
      {"md5", H_MD5, 64, 16},          /* RFC 1321 */
      {"sha1", H_SHA1, 64, 20},        /* FIPS 180-4 */
      {"sha256", H_SHA256, 64, 32},    /* FIPS 180-4 */
      {"sha384", H_SHA384, 128, 48},   /* FIPS 180-4 */
      {"sha512", H_SHA512, 128, 64},   /* FIPS 180-4 */
  };
  for (size_t i = 0; i < sizeof T / sizeof T[0]; i++) {
    if (strcmp(name, T[i].name) == 0) {
      *block = T[i].block;
      *digest = T[i].digest;
      return T[i].hash;
    }
  }
  return -1;
}

/* Keys `h` (hash, block, digest set): RFC 2104 §2 steps (1)–(2) for the ipad and opad blocks. */
static void raw_hmac_key(RawHmac *h, const uint8_t *key, size_t key_len) {
  uint8_t k[128], pad[128];
  memset(k, 0, sizeof k);
  if (key_len > h->block) { /* RFC 2104 §2: a longer key is hashed first */
    HashState s;
    hash_init(h->hash, &s);
    hash_update(h->hash, &s, key, key_len);
    hash_final(h->hash, &s, k);
    OPENSSL_cleanse(&s, sizeof s);
  } else if (key_len) {
    memcpy(k, key, key_len);
  }
  for (size_t i = 0; i < h->block; i++) pad[i] = k[i] ^ 0x36;
  hash_init(h->hash, &h->inner);
  hash_update(h->hash, &h->inner, pad, h->block);
  for (size_t i = 0; i < h->block; i++) pad[i] = k[i] ^ 0x5c;
  hash_init(h->hash, &h->outer);
  hash_update(h->hash, &h->outer, pad, h->block);
  OPENSSL_cleanse(k, sizeof k);
  OPENSSL_cleanse(pad, sizeof pad);
}

/* HMAC(text ‖ [tail]) into md (h->digest bytes). */
static void raw_hmac(const RawHmac *h, const uint8_t *text, size_t len, const uint8_t *tail,
                     size_t tail_len, uint8_t *md) {
  HashState s = h->inner;
  if (len) hash_update(h->hash, &s, text, len);
  if (tail_len) hash_update(h->hash, &s, tail, tail_len);
  hash_final(h->hash, &s, md);
  s = h->outer;
  hash_update(h->hash, &s, md, h->digest);
  hash_final(h->hash, &s, md);
  OPENSSL_cleanse(&s, sizeof s);
}

typedef struct {
  int kind; /* KIND_ESP (createSa) or KIND_AH (authCreate) */
  int mode; /* ESP: MODE_*; AH: AUTH_* */
  int icv_len, iv_len, block, pad_align, esn;
  EVP_CIPHER_CTX *enc, *dec;
  HMAC_CTX *hmac;
  RawHmac *raw; /* AH HMAC */
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
  if (sa->raw) {
    OPENSSL_cleanse(sa->raw, sizeof *sa->raw); /* the keyed ipad/opad states */
    free(sa->raw);
  }
  if (sa->scratch) {
    OPENSSL_cleanse(sa->scratch, sa->scratch_len);
    free(sa->scratch);
  }
  OPENSSL_cleanse(sa->salt, sizeof sa->salt);
  sa->enc = sa->dec = NULL;
  sa->hmac = NULL;
  sa->raw = NULL;
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

/* Hands a keyed SA to JavaScript as an external, or frees it and throws `fail` when set. */
static napi_value sa_external(napi_env env, Sa *sa, const char *fail) {
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
  return sa_external(env, sa, fail);
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
  if (b->sa->kind != KIND_ESP) {
    snprintf(msg, sizeof msg, "%s: expected an ESP SA, got an AH SA from authCreate()", where);
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

/*
 * seed + the sum of p[0, n) as big-endian 16-bit words, folded to 16 bits (RFC 1071 §4.1; an odd
 * last byte is the high byte of a zero-padded word). Summed 32 bits at a time into a 64-bit
 * accumulator in the machine's byte order and byte-swapped at the end when that order is
 * little-endian (RFC 1071 §2(B), §2(C)).
 */
#if defined(__x86_64__) && defined(__GLIBC__) && defined(__has_attribute)
#if __has_attribute(target_clones)
/* An AVX2 copy chosen at load time (an ifunc) where the CPU has it: ~2x on 1,400 bytes. */
#define SUM_CLONES __attribute__((target_clones("avx2", "default")))
#endif
#endif
#ifndef SUM_CLONES
#define SUM_CLONES
#endif
SUM_CLONES static uint32_t sum_be16(const uint8_t *p, size_t n, uint64_t seed) {
  uint64_t acc = 0;
  size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    uint32_t w;
    memcpy(&w, p + i, 4);
    acc += w;
  }
  /* Fold the 32-bit word sum to 16 bits (end-around carry), then into big-endian order. */
  while (acc >> 16) acc = (acc & 0xffff) + (acc >> 16);
  const uint16_t probe = 1;
  uint64_t sum = acc;
  if (*(const uint8_t *)&probe == 1) sum = ((acc & 0xff) << 8) | (acc >> 8);
  for (; i + 2 <= n; i += 2) sum += ((uint32_t)p[i] << 8) | p[i + 1];
  if (i < n) sum += (uint32_t)p[i] << 8;
  sum += seed;
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return (uint32_t)sum;
}

/*
 * Checksum jobs: 4 u32 per packet, [start, end, field, seed] as absolute offsets into the batch
 * buffer; field NO_CHECKSUM: none. A job writes ~(seed + sum of buf[start, end)) (RFC 1071, with
 * whatever the field holds at the time: the transport's seed, contract D2) big-endian at field.
 */
#define JOB_WORDS 4
#define NO_CHECKSUM 0xffffffffu

static void run_job(uint8_t *buf, const uint32_t *job) {
  uint32_t c = ~sum_be16(buf + job[0], (size_t)(job[1] - job[0]), job[3]) & 0xffff;
  buf[job[2]] = (uint8_t)(c >> 8);
  buf[job[2] + 1] = (uint8_t)c;
}

/* Shared by seal and sealWithChecksums: jobs NULL for none. */
static napi_value seal_batch(napi_env env, napi_value *argv, const char *where, uint32_t *jobs,
                             size_t n_jobs) {
  char msg[200];
  Batch b;
  if (!get_batch(env, argv, where, &b)) return NULL;
  bool iv_present;
  if (napi_get_value_bool(env, argv[6], &iv_present) != napi_ok) {
    snprintf(msg, sizeof msg, "%s: expected ivPresent as a boolean", where);
    return throw_type(env, msg);
  }
  Sa *sa = b.sa;
  size_t fixed = 8 + (size_t)sa->iv_len + (size_t)sa->icv_len;
  for (uint32_t i = 0; i < b.count; i++) { /* geometry first: nothing is sealed on a bad batch */
    size_t l = b.len[i];
    if (l < fixed + 2 || (l - fixed) % (size_t)sa->pad_align != 0) {
      snprintf(msg, sizeof msg, "%s: a packet does not fit the SA's geometry", where);
      return throw_range(env, msg);
    }
  }
  if (jobs != NULL) {
    if (n_jobs / JOB_WORDS < b.count) {
      snprintf(msg, sizeof msg, "%s: expected %u checksum jobs (%u u32s), got %zu u32s", where,
               b.count, b.count * JOB_WORDS, n_jobs);
      return throw_range(env, msg);
    }
    for (uint32_t i = 0; i < b.count; i++) {
      const uint32_t *j = jobs + (size_t)i * JOB_WORDS;
      if (j[2] == NO_CHECKSUM) continue;
      /* The job lies in its own packet, the field inside the summed range. */
      uint64_t from = b.off[i], to = (uint64_t)b.off[i] + b.len[i];
      if (!(from <= j[0] && j[0] <= j[2] && (uint64_t)j[2] + 2 <= j[1] && j[1] <= to)) {
        snprintf(msg, sizeof msg,
                 "%s: checksum job %u: expected packet start %u <= start <= field, field + 2 <= "
                 "end <= packet end %llu, got start %u, field %u, end %u",
                 where, i, b.off[i], (unsigned long long)to, j[0], j[2], j[1]);
        return throw_range(env, msg);
      }
    }
  }
  for (uint32_t i = 0; i < b.count; i++) {
    /* D13: the checksum first — the field lies inside the bytes the seal encrypts. */
    if (jobs != NULL && jobs[(size_t)i * JOB_WORDS + 2] != NO_CHECKSUM)
      run_job(b.buf, jobs + (size_t)i * JOB_WORDS);
    if (!seal_one(sa, b.buf + b.off[i], b.len[i], b.high[i], iv_present)) {
      snprintf(msg, sizeof msg, "%s: OpenSSL failed", where);
      return throw_range(env, msg);
    }
  }
  return NULL;
}

/* seal(sa, buf, offsets, lengths, seqHigh, count, ivPresent) */
static napi_value seal(napi_env env, napi_callback_info info) {
  size_t argc = 7;
  napi_value argv[7];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 7) return throw_type(env, "engine.seal: expected 7 arguments");
  return seal_batch(env, argv, "engine.seal", NULL, 0);
}

/*
 * sealWithChecksums(sa, buf, offsets, lengths, seqHigh, count, ivPresent, jobs: Uint32Array):
 * seal, and before packet i is sealed its checksum job jobs[4i .. 4i + 4) (see run_job).
 */
static napi_value seal_with_checksums(napi_env env, napi_callback_info info) {
  size_t argc = 8;
  napi_value argv[8];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 8) return throw_type(env, "engine.sealWithChecksums: expected 8 arguments");
  uint32_t *jobs;
  size_t n_jobs;
  if (!typed(env, argv[7], napi_uint32_array, (void **)&jobs, &n_jobs))
    return throw_type(env, "engine.sealWithChecksums: expected jobs as a Uint32Array");
  return seal_batch(env, argv, "engine.sealWithChecksums", jobs, n_jobs);
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

/* ---- AH (RFC 4302): one keyed context per SA, one ICV input per call ---- */

/*
 * authCreate(mode, name, key, salt, icvLen, esn) -> External
 *   mode AUTH_HMAC: name is the digest ("sha256"), key the HMAC key, salt empty;
 *   mode AUTH_GMAC: name is the GCM cipher ("aes-128-gcm"), key the AES key, salt 4 bytes
 *   (RFC 4543 §5.4: the salt is the last 4 bytes of the SA's keying material; the caller splits).
 */
static napi_value auth_create(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 6) return throw_type(env, "engine.authCreate: expected 6 arguments");
  uint32_t mode, icv_len;
  bool esn;
  char name[64];
  size_t n;
  void *key, *salt;
  size_t key_len, salt_len;
  if (!get_u32(env, argv[0], &mode) || mode > AUTH_GMAC)
    return throw_type(env, "engine.authCreate: expected mode 0 (HMAC) or 1 (GMAC)");
  if (napi_get_value_string_utf8(env, argv[1], name, sizeof name, &n) != napi_ok)
    return throw_type(env, "engine.authCreate: expected name as a string");
  if (!typed(env, argv[2], napi_uint8_array, &key, &key_len) ||
      !typed(env, argv[3], napi_uint8_array, &salt, &salt_len))
    return throw_type(env, "engine.authCreate: expected key and salt as Uint8Arrays");
  if (!get_u32(env, argv[4], &icv_len) || napi_get_value_bool(env, argv[5], &esn) != napi_ok)
    return throw_type(env, "engine.authCreate: expected icvLen as a number and esn as a boolean");
  if (key_len == 0 || icv_len == 0 || icv_len > 64 ||
      (mode == AUTH_GMAC && (salt_len != 4 || icv_len != 16)) ||
      (mode == AUTH_HMAC && salt_len != 0))
    return throw_range(env, "engine.authCreate: key, salt or icvLen out of range");

  Sa *sa = (Sa *)calloc(1, sizeof(Sa));
  if (!sa) return throw_range(env, "engine.authCreate: out of memory");
  sa->kind = KIND_AH;
  sa->mode = (int)mode;
  sa->icv_len = (int)icv_len;
  sa->iv_len = mode == AUTH_GMAC ? 8 : 0; /* RFC 4543 §4: the IV is eight octets */
  sa->esn = esn ? 1 : 0;
  const char *fail = NULL;
  if (mode == AUTH_HMAC) {
    size_t block, digest;
    int hash = hash_by_name(name, &block, &digest);
    if (hash < 0) fail = "engine.authCreate: digest not available";
    else if (icv_len > digest) fail = "engine.authCreate: icv longer than digest";
    else if (!(sa->raw = (RawHmac *)calloc(1, sizeof(RawHmac))))
      fail = "engine.authCreate: out of memory";
    else {
      sa->raw->hash = hash;
      sa->raw->block = block;
      sa->raw->digest = digest;
      raw_hmac_key(sa->raw, key, key_len);
    }
  } else {
    memcpy(sa->salt, salt, 4);
    const EVP_CIPHER *c = EVP_get_cipherbyname(name);
    if (!c) fail = "engine.authCreate: cipher not available";
    else if (EVP_CIPHER_mode(c) != EVP_CIPH_GCM_MODE) fail = "engine.authCreate: not a GCM cipher";
    else if ((size_t)EVP_CIPHER_key_length(c) != key_len) fail = "engine.authCreate: key length";
    else {
      sa->enc = EVP_CIPHER_CTX_new();
      if (!sa->enc || !key_cipher(sa->enc, c, key, 1, 1, 0))
        fail = "engine.authCreate: cipher init failed";
    }
  }
  return sa_external(env, sa, fail);
}

/* The ICV of data ‖ [seqHigh] into out (icv_len bytes); 1 on success, 0 on an OpenSSL failure. */
static int auth_icv(Sa *sa, const uint8_t *data, size_t len, uint32_t high, const uint8_t *iv,
                    uint8_t *out) {
  uint8_t h[4];
  put_be32(h, high);
  if (sa->mode == AUTH_HMAC) {
    uint8_t md[64];
    raw_hmac(sa->raw, data, len, h, sa->esn ? 4 : 0, md); /* RFC 4302 §2.5.1: ‖ seqHigh */
    memcpy(out, md, (size_t)sa->icv_len);                 /* RFC 2104 §5: the leftmost bytes */
    OPENSSL_cleanse(md, sizeof md);
    return 1;
  }
  uint8_t nonce[12], fin[16];
  int n = 0, m = 0;
  memcpy(nonce, sa->salt, 4); /* RFC 4543 §3.2: nonce = salt ‖ IV */
  memcpy(nonce + 4, iv, 8);
  if (!EVP_EncryptInit_ex(sa->enc, NULL, NULL, NULL, nonce)) return 0;
  /* RFC 4543 §4: AAD = the RFC 4302 authenticated data (‖ seqHigh with ESN); no plaintext. */
  if (len > INT_MAX) return 0;
  if (len && !EVP_EncryptUpdate(sa->enc, NULL, &n, data, (int)len)) return 0;
  if (sa->esn && !EVP_EncryptUpdate(sa->enc, NULL, &n, h, 4)) return 0;
  if (!EVP_EncryptFinal_ex(sa->enc, fin, &m)) return 0;
  return EVP_CIPHER_CTX_ctrl(sa->enc, EVP_CTRL_AEAD_GET_TAG, 16, out) > 0;
}

/* A live AH SA from argv[0], else a TypeError naming `where` (and NULL). */
static Sa *get_auth_sa(napi_env env, napi_value v, const char *where) {
  char msg[160];
  Sa *sa = get_sa(env, v);
  const char *why = NULL;
  if (!sa) why = "expected an SA";
  else if (sa->destroyed) why = "expected a live SA, got one ended by destroySa()";
  else if (sa->kind != KIND_AH) why = "expected an AH SA, got an ESP SA from createSa()";
  if (!why) return sa;
  snprintf(msg, sizeof msg, "%s: %s", where, why);
  napi_throw_type_error(env, NULL, msg);
  return NULL;
}

/* A Uint8Array's data and length (no napi_is_typedarray: the info call refuses the rest). */
static int bytes_arg(napi_env env, napi_value v, uint8_t **data, size_t *len) {
  napi_typedarray_type t;
  napi_value ab;
  size_t off;
  void *d = NULL;
  if (napi_get_typedarray_info(env, v, &t, len, &d, &ab, &off) != napi_ok) return 0;
  *data = (uint8_t *)d;
  return t == napi_uint8_array;
}

/* The iv argument: null (length 0) or a Uint8Array. */
static int iv_arg(napi_env env, napi_value v, uint8_t **data, size_t *len) {
  napi_valuetype vt;
  if (napi_typeof(env, v, &vt) != napi_ok) return 0;
  if (vt == napi_null || vt == napi_undefined) {
    *data = NULL;
    *len = 0;
    return 1;
  }
  return bytes_arg(env, v, data, len);
}

typedef struct {
  Sa *sa;
  uint8_t *data, *iv, *icv;
  size_t data_len, iv_len, icv_len;
  uint32_t high;
} AuthCall;

/* (sa, data: Uint8Array, seqHigh: number, iv: Uint8Array | null, icv: Uint8Array) */
static int get_auth_call(napi_env env, napi_callback_info info, const char *where, AuthCall *c) {
  char msg[160];
  size_t argc = 5;
  napi_value argv[5];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return 0;
  if (argc < 5) {
    snprintf(msg, sizeof msg, "%s: expected 5 arguments, got %zu", where, argc);
    napi_throw_type_error(env, NULL, msg);
    return 0;
  }
  c->sa = get_auth_sa(env, argv[0], where);
  if (!c->sa) return 0;
  if (!bytes_arg(env, argv[1], &c->data, &c->data_len) || !get_u32(env, argv[2], &c->high) ||
      !iv_arg(env, argv[3], &c->iv, &c->iv_len) ||
      !bytes_arg(env, argv[4], &c->icv, &c->icv_len)) {
    snprintf(msg, sizeof msg,
             "%s: expected (sa, Uint8Array, seqHigh, Uint8Array | null, Uint8Array)", where);
    napi_throw_type_error(env, NULL, msg);
    return 0;
  }
  if (c->data_len > INT_MAX) {
    snprintf(msg, sizeof msg, "%s: expected at most %d data bytes, got %zu", where, INT_MAX,
             c->data_len);
    napi_throw_range_error(env, NULL, msg);
    return 0;
  }
  return 1;
}

/* authCompute(sa, data, seqHigh, iv | null, out): writes the ICV into out (icvLen bytes). */
static napi_value auth_compute(napi_env env, napi_callback_info info) {
  AuthCall c;
  if (!get_auth_call(env, info, "engine.authCompute", &c)) return NULL;
  if (c.icv_len != (size_t)c.sa->icv_len || c.iv_len != (size_t)c.sa->iv_len)
    return throw_range(env, "engine.authCompute: out or iv does not fit the SA");
  if (!auth_icv(c.sa, c.data, c.data_len, c.high, c.iv, c.icv))
    return throw_range(env, "engine.authCompute: OpenSSL failed");
  return NULL;
}

/* authVerify(sa, data, seqHigh, iv | null, icv) -> 0 ok, 1 icv-mismatch, 2 bad-length. */
static napi_value auth_verify(napi_env env, napi_callback_info info) {
  AuthCall c;
  if (!get_auth_call(env, info, "engine.authVerify", &c)) return NULL;
  int r = R_BAD_LENGTH; /* packet bytes: a wrong length is a value, never a throw */
  if (c.icv_len == (size_t)c.sa->icv_len && c.iv_len == (size_t)c.sa->iv_len) {
    uint8_t mac[EVP_MAX_MD_SIZE];
    if (!auth_icv(c.sa, c.data, c.data_len, c.high, c.iv, mac))
      return throw_range(env, "engine.authVerify: OpenSSL failed");
    r = CRYPTO_memcmp(mac, c.icv, c.icv_len) == 0 ? R_OK : R_MISMATCH;
    OPENSSL_cleanse(mac, sizeof mac);
  }
  napi_value v;
  CHECK(napi_create_uint32(env, (uint32_t)r, &v));
  return v;
}

/*
 * sum16(buffer: Uint8Array, start, end, seed) -> number: seed + the sum of buffer[start, end) as
 * big-endian 16-bit words, folded to 16 bits (sum_be16).
 */
static napi_value sum16(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  uint8_t *buf;
  size_t len;
  uint32_t start, end, seed;
  if (argc < 4 || !typed(env, argv[0], napi_uint8_array, (void **)&buf, &len) ||
      !get_u32(env, argv[1], &start) || !get_u32(env, argv[2], &end) ||
      !get_u32(env, argv[3], &seed))
    return throw_type(env, "engine.sum16: expected (Uint8Array, start, end, seed)");
  if (start > end || end > len) return throw_range(env, "engine.sum16: range outside the buffer");
  napi_value out;
  CHECK(napi_create_uint32(env, sum_be16(buf + start, end - start, seed), &out));
  return out;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"createSa", NULL, create_sa, NULL, NULL, NULL, napi_enumerable, NULL},
      {"destroySa", NULL, destroy_sa, NULL, NULL, NULL, napi_enumerable, NULL},
      {"seal", NULL, seal, NULL, NULL, NULL, napi_enumerable, NULL},
      {"sealWithChecksums", NULL, seal_with_checksums, NULL, NULL, NULL, napi_enumerable, NULL},
      {"open", NULL, open_, NULL, NULL, NULL, napi_enumerable, NULL},
      {"authCreate", NULL, auth_create, NULL, NULL, NULL, napi_enumerable, NULL},
      {"authCompute", NULL, auth_compute, NULL, NULL, NULL, napi_enumerable, NULL},
      {"authVerify", NULL, auth_verify, NULL, NULL, NULL, napi_enumerable, NULL},
      {"sum16", NULL, sum16, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  CHECK(napi_define_properties(env, exports, sizeof props / sizeof props[0], props));
  napi_value v;
  CHECK(napi_create_string_utf8(env, OPENSSL_VERSION_TEXT, NAPI_AUTO_LENGTH, &v));
  CHECK(napi_set_named_property(env, exports, "openssl", v));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
