/**
 * @module
 * RFC 3602 §4 test vectors: AES-CBC-128 raw (Cases #1–#4) and whole ESP packets with explicit IV
 * and no ICV (Cases #5–#8). Provenance in README.md: bytes transcribed from libreswan's
 * ike_alg_aes.c (Cases #1–#4, "Ref: http://tools.ietf.org/html/rfc3602: Test Vectors") and from
 * RUB-NDS's IPsec state machine extractor ESPMessageTest.java (Cases #5–#8,
 * testRFC3602TestVectorCase5…8); our seal reproducing each ciphertext checks the transcription.
 */
import { ascii, hex } from './bytes.ts';

/** A raw AES-CBC case: key, IV, plaintext, ciphertext. */
export interface CbcCase {
  readonly name: string;
  readonly key: Uint8Array;
  readonly iv: Uint8Array;
  readonly plaintext: Uint8Array;
  readonly ciphertext: Uint8Array;
}

/** RFC 3602 §4 Cases #1–#4: AES-CBC with a 128-bit key, whole blocks, no padding. */
export const RAW: readonly CbcCase[] = [
  {
    // RFC 3602 §4 Case #1: Encrypting 16 bytes (1 block) using AES-CBC with 128-bit key
    name: 'RFC 3602 §4 Case #1',
    key: hex('06a9214036b8a15b512e03d534120006'),
    iv: hex('3dafba429d9eb430b422da802c9fac41'),
    plaintext: ascii('Single block msg'),
    ciphertext: hex('e353779c1079aeb82708942dbe77181a'),
  },
  {
    // RFC 3602 §4 Case #2: Encrypting 32 bytes (2 blocks) using AES-CBC with 128-bit key
    name: 'RFC 3602 §4 Case #2',
    key: hex('c286696d887c9aa0611bbb3e2025a45a'),
    iv: hex('562e17996d093d28ddb3ba695a2e6f58'),
    plaintext: hex('000102030405060708090a0b0c0d0e0f 101112131415161718191a1b1c1d1e1f'),
    ciphertext: hex('d296cd94c2cccf8a3a863028b5e1dc0a 7586602d253cfff91b8266bea6d61ab1'),
  },
  {
    // RFC 3602 §4 Case #3: Encrypting 48 bytes (3 blocks) using AES-CBC with 128-bit key
    name: 'RFC 3602 §4 Case #3',
    key: hex('6c3ea0477630ce21a2ce334aa746c2cd'),
    iv: hex('c782dc4c098c66cbd9cd27d825682c81'),
    plaintext: ascii('This is a 48-byte message (exactly 3 AES blocks)'),
    ciphertext: hex(`d0a02b3836451753d493665d33f0e886
                     2dea54cdb293abc7506939276772f8d5
                     021c19216bad525c8579695d83ba2684`),
  },
  {
    // RFC 3602 §4 Case #4: Encrypting 64 bytes (4 blocks) using AES-CBC with 128-bit key
    name: 'RFC 3602 §4 Case #4',
    key: hex('56e47a38c5598974bc46903dba290349'),
    iv: hex('8ce82eefbea0da3c44699ed7db51b7d9'),
    plaintext: hex(`a0a1a2a3a4a5a6a7a8a9aaabacadaeaf
                    b0b1b2b3b4b5b6b7b8b9babbbcbdbebf
                    c0c1c2c3c4c5c6c7c8c9cacbcccdcecf
                    d0d1d2d3d4d5d6d7d8d9dadbdcdddedf`),
    ciphertext: hex(`c30e32ffedc0774e6aff6af0869f71aa
                     0f3af07a9a31a9c684db207eb0ef8e4e
                     35907aa632c3ffdf868bb7b29d3d46ad
                     83ce9f9a102ee99d49a53e87f4c3da55`),
  },
];

/** A whole-ESP-packet case: AES-CBC-128, explicit IV, no integrity (RFC 4303 allows it). */
export interface EspCbcCase {
  readonly name: string;
  readonly key: Uint8Array;
  readonly spi: number;
  readonly seq: number;
  readonly iv: Uint8Array;
  /** The payload before ESP (ICMP message or IP datagram). */
  readonly payload: Uint8Array;
  readonly nextHeader: number;
  /** The ESP packet, SPI through the last ciphertext byte. */
  readonly packet: Uint8Array;
}

/** RFC 3602 §4 Cases #5–#8: full ESP packets (transport ICMP and tunnel IPv4). */
export const ESP: readonly EspCbcCase[] = [
  {
    // RFC 3602 §4 Case #5: Sending a 64-byte ping (ICMP echo, transport mode)
    name: 'RFC 3602 §4 Case #5',
    key: hex('90d382b410eeba7ad938c46cec1a82bf'),
    spi: 0x4321,
    seq: 1,
    iv: hex('e96e8c08ab465763fd098d45dd3ff893'),
    payload: hex(`08000ebda70a00008e9c083db95b0700 08090a0b0c0d0e0f1011121314151617
                  18191a1b1c1d1e1f2021222324252627 28292a2b2c2d2e2f3031323334353637`),
    nextHeader: 1,
    packet: hex(`0000432100000001e96e8c08ab465763 fd098d45dd3ff893f663c25d325c18c6
                 a9453e194e120849a4870b66cc6b9965 330013b4898dc856a4699e523a55db08
                 0b59ec3a8e4b7e52775b07d1db34ed9c 538ab50c551b874aa269add047ad2d59
                 13ac19b7cfbad4a6`),
  },
  {
    // RFC 3602 §4 Case #6: Sending a 28-byte ping (ICMP echo, transport mode)
    name: 'RFC 3602 §4 Case #6',
    key: hex('90d382b410eeba7ad938c46cec1a82bf'),
    spi: 0x4321,
    seq: 8,
    iv: hex('69d08df7d203329db093fc4924e5bd80'),
    payload: hex('0800b5e8a80a0500a69c083d0b660e00 777777777777777777777777'),
    nextHeader: 1,
    packet: hex(`000043210000000869d08df7d203329d b093fc4924e5bd80f51995881ec4e0c4
                 488987ce742e8109689bb379d2d750c0 d915dca346a89f75`),
  },
  {
    // RFC 3602 §4 Case #7: Sending a 84-byte IPv4 packet (tunnel mode)
    name: 'RFC 3602 §4 Case #7',
    key: hex('0123456789abcdef0123456789abcdef'),
    spi: 0x8765,
    seq: 2,
    iv: hex('f4e765244f6407adf13dc1380f673f37'),
    payload: hex(`45000054090400004001f988c0a87b03 c0a87bc808009f76a90a0100b49c083d
                  02a2040008090a0b0c0d0e0f10111213 1415161718191a1b1c1d1e1f20212223
                  2425262728292a2b2c2d2e2f30313233 34353637`),
    nextHeader: 4,
    packet: hex(`0000876500000002f4e765244f6407ad f13dc1380f673f37773b5241a4c44922
                 5e4f3ce5ed611b0c237ca96cf74a9301 3c1b0ea1a0cf70f8e4ecaec78ac53aad
                 7a0f022b859243c647752e94a859352b 8a4d4d2decd136e5c177f132ad3fbfb2
                 201ac9904c74ee0a109e0ca1e4dfe9d5 a100b842f1c22f0d`),
  },
  {
    // RFC 3602 §4 Case #8: Sending a 68-byte IPv4 packet (tunnel mode)
    name: 'RFC 3602 §4 Case #8',
    key: hex('0123456789abcdef0123456789abcdef'),
    spi: 0x8765,
    seq: 5,
    iv: hex('85d47224b5f3dd5d2101d4ea8dffab22'),
    payload: hex(`45000044090c00004001f990c0a87b03 c0a87bc80800d63caa0a0200c69c083d
                  a3de0300ffffffffffffffffffffffff ffffffffffffffffffffffffffffffff
                  ffffffff`),
    nextHeader: 4,
    packet: hex(`000087650000000585d47224b5f3dd5d 2101d4ea8dffab2215b92683819596a8
                 047232cc00f7048fe45318e11f8a0f62 ede3c3fc61203bb50f980a08c9843fd3
                 a1b06d5c07ff9639b7eb7dfb3512e5de 435e7207ed971ef3d2726d9b5ef6affc
                 6d17a0decbb13892`),
  },
];
