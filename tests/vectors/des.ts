/**
 * @module
 * DES and Triple-DES known answers. Provenance in README.md.
 *
 * - FIPS 81 (DES Modes of Operation) Appendix B (ECB) and Appendix C (CBC): key 0123456789abcdef,
 *   IV 1234567890abcdef, plaintext "Now is the time for all ".
 * - NIST SP 800-67 (TDEA) Appendix B.1: three distinct keys over "The qufck brown fox jump"
 *   (sic: the example's plaintext), ECB.
 * - J. Orlin Grabbe, "The DES Algorithm Illustrated": the worked example 133457799bbcdff1 /
 *   0123456789abcdef → 85e813540f0ab405 (checks the reference DES round by round).
 */
import { ascii, hex } from './bytes.ts';

/** FIPS 81 Appendix B/C: the DES key. */
export const FIPS81_KEY: Uint8Array = hex('0123456789abcdef');
/** FIPS 81 Appendix C: the CBC IV. */
export const FIPS81_IV: Uint8Array = hex('1234567890abcdef');
/** FIPS 81 Appendix B/C: the plaintext, three 8-byte blocks. */
export const FIPS81_PLAINTEXT: Uint8Array = ascii('Now is the time for all ');
/** FIPS 81 Appendix B: DES-ECB ciphertext. */
export const FIPS81_ECB: Uint8Array = hex('3fa40e8a984d4815 6a271787ab8883f9 893d51ec4b563b53');
/** FIPS 81 Appendix C: DES-CBC ciphertext. */
export const FIPS81_CBC: Uint8Array = hex('e5c7cdde872bf27c 43e934008c389c0f 683788499a7c05f6');

/** NIST SP 800-67 Appendix B.1: K1 ‖ K2 ‖ K3. */
export const SP800_67_KEY: Uint8Array = hex('0123456789abcdef 23456789abcdef01 456789abcdef0123');
/** NIST SP 800-67 Appendix B.1: plaintext "The qufck brown fox jump". */
export const SP800_67_PLAINTEXT: Uint8Array = ascii('The qufck brown fox jump');
/** NIST SP 800-67 Appendix B.1: TDEA-ECB ciphertext. */
export const SP800_67_ECB: Uint8Array = hex('a826fd8ce53b855f cce21c8112256fe6 68d5c05dd9b6b900');

/** Grabbe, "The DES Algorithm Illustrated": key, plaintext, ciphertext of one block. */
export const GRABBE: {
  readonly key: Uint8Array;
  readonly plaintext: Uint8Array;
  readonly ciphertext: Uint8Array;
} = {
  key: hex('133457799bbcdff1'),
  plaintext: hex('0123456789abcdef'),
  ciphertext: hex('85e813540f0ab405'),
};
