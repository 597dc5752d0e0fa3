/**
 * @module
 * RFC 7634 Appendix A: the ESP example of ChaCha20-Poly1305 — an ICMP echo in IPv4 tunnel mode,
 * SPI 0x01020304, sequence number 5, IV 1011121314151617, key 80 81 … 9f, salt a0 a1 a2 a3.
 * Provenance in README.md: the bytes were transcribed from a public Rust IPsec decoder's test
 * `test_chacha20_poly1305_rfc7634_appendix_a` (which cites rfc-editor.org/rfc/rfc7634#appendix-A),
 * because no copy of the RFC body was reachable; our seal reproducing the packet byte for byte,
 * and @noble/ciphers opening it, check the transcription.
 */
import { hex } from './bytes.ts';

/** RFC 7634 Appendix A: keying material = 32-byte ChaCha20 key ‖ 4-byte salt (RFC 7634 §2). */
export const KEYMAT: Uint8Array =
  hex(`808182838485868788898a8b8c8d8e8f 909192939495969798999a9b9c9d9e9f
                                       a0a1a2a3`);
/** RFC 7634 Appendix A: SPI. */
export const SPI = 0x01020304;
/** RFC 7634 Appendix A: sequence number (32-bit, no ESN). */
export const SEQ = 5;
/** RFC 7634 Appendix A: the inner IPv4 packet (ICMP echo request, 84 bytes). */
export const INNER: Uint8Array = hex(`4500 0054 a6f2 0000 4001 e778 c633 6405 c000 0205 0800 5b7a
                                      3a08 0000 553b ec10 0007 3627 0809 0a0b 0c0d 0e0f 1011 1213
                                      1415 1617 1819 1a1b 1c1d 1e1f 2021 2223 2425 2627 2829 2a2b
                                      2c2d 2e2f 3031 3233 3435 3637`);
/** RFC 7634 Appendix A: pad length 2, next header 4 (IPv4, tunnel mode). */
export const PAD_LENGTH = 2;
/** RFC 7634 Appendix A: next header 4 (IP-in-IP). */
export const NEXT_HEADER = 4;
/** RFC 7634 Appendix A: the ESP payload after the header: IV ‖ ciphertext ‖ 16-byte tag. */
export const ESP_PAYLOAD: Uint8Array = hex(`1011121314151617 240394 28b97f417e3c13753a4f05087b67c352
                                            e6a7fab1b982d466ef407ae5c614ee8099d52844eb61aa95dfab4c02
                                            f72aa71e7c4c4f64c9befe2facc638e8f3cbec163fac469b502773f6
                                            fb94e664da9165b82829f641e076aaa8266b7fb0f7b11b369907e1ad43`);
