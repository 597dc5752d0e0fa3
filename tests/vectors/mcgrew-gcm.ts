/**
 * @module
 * The ESP test cases of draft-mcgrew-gcm-test-01 (D. McGrew, "Test Cases for the use of
 * Galois/Counter Mode (GCM) and Galois Message Authentication Code (GMAC) in IPsec ESP",
 * March 2009), §4: sixteen AES-GCM-ESP packets (RFC 4106; 128/192/256-bit keys, with and
 * without ESN) and one AES-GMAC-ESP packet (ENCR_NULL_AUTH_AES_GMAC, RFC 4543). Bytes copied from
 * the draft's own text (repository ysoftwareab/know-your-ietf-well, draft-mcgrew-gcm-test-01.txt),
 * not from DPDK's corrected copy: the inner IPv4/UDP/TCP checksums of some plaintexts are wrong
 * and some trailers are inconsistent, which does not matter to the ESP transform (it neither
 * reads nor checks the payload), so only the ESP transform is checked.
 *
 * Field names as in the draft: `seq` is 4 octets (32-bit) or 8 octets (ESN, high ‖ low);
 * `nonce` = salt ‖ IV; `aad` = SPI ‖ seq; `packet` = SPI ‖ seqLow ‖ IV ‖ ciphertext ‖ tag.
 * The draft's IVs are not sequence numbers, so these go through `seal`'s explicit `iv`.
 */
import { hex } from './bytes.ts';

/** One draft-mcgrew-gcm-test-01 §4 test case. */
export interface McgrewCase {
  /** Where in the draft: its page, as the cases are unnumbered. */
  readonly name: string;
  readonly algorithm: 'AES-GCM-ESP' | 'AES-GMAC-ESP';
  /** The AES key, without the salt. */
  readonly key: Uint8Array;
  readonly spi: Uint8Array;
  /** 4 octets, or 8 octets (ESN). */
  readonly seq: Uint8Array;
  /** salt (4) ‖ IV (8). */
  readonly nonce: Uint8Array;
  /** GCM plaintext: payload ‖ padding ‖ pad length ‖ next header (empty for GMAC). */
  readonly plaintext: Uint8Array;
  readonly aad: Uint8Array;
  readonly packet: Uint8Array;
}

/** draft-mcgrew-gcm-test-01 §4, in the draft's order (pages 7–21). */
export const CASES: readonly McgrewCase[] = [
  {
    // draft-mcgrew-gcm-test-01 §4, page 7: AES-GCM-ESP, 128-bit key, ESN
    name: 'draft-mcgrew-gcm-test-01 §4 p.7 (GCM-128, ESN)',
    algorithm: 'AES-GCM-ESP',
    key: hex('4c80cdefbb5d10da906ac73c3613a634'),
    spi: hex('00004321'),
    seq: hex('8765432100000000'),
    nonce: hex('2e443b684956ed7e3b244cfe'),
    plaintext: hex(`45000048699a000080114db7c0a80102 c0a801010a9bf15638d3010000010000
                    00000000045f736970045f7564700373 69700963796265726369747902646b00
                    0021000101020201`),
    aad: hex('000043218765432100000000'),
    packet: hex(`00004321000000004956ed7e3b244cfe fecf537e729d5b07dc30df528dd22b76
                 8d1b98736696a6fd348509fa13ceac34 cfa2436f14a3f3cf65925bf1f4a13c5d
                 15b21e1884f5ff6247aeabb786b93bce 61bc17d768fd9732459018148f6cbe72
                 2fd04796562dfdb4`),
  },
  {
    // draft-mcgrew-gcm-test-01 §4, page 8: AES-GCM-ESP, 128-bit key, 32-bit seq
    name: 'draft-mcgrew-gcm-test-01 §4 p.8 (GCM-128)',
    algorithm: 'AES-GCM-ESP',
    key: hex('feffe9928665731c6d6a8f9467308308'),
    spi: hex('0000a5f8'),
    seq: hex('0000000a'),
    nonce: hex('cafebabefacedbaddecaf888'),
    plaintext: hex(`4500003e698f000080114dccc0a80102 c0a801010a980035002a2343b2d00100
                    00010000000000000373697009637962 65726369747902646b00000100010001`),
    aad: hex('0000a5f80000000a'),
    packet: hex(`0000a5f80000000afacedbaddecaf888 deb22cd9b07c72c16e3a65beeb8df304
                 a5a5897d33ae530f1ba76d5d114d2a5c 3de81827c10e9a4f51330d0eec416642
                 cfbb85a5b47e48a4ec3b9ba95d918bd1 83b70d3aa8bc6ee4c309e9d85a41ad4a`),
  },
  {
    // draft-mcgrew-gcm-test-01 §4, page 9: AES-GCM-ESP, 256-bit key, 32-bit seq
    name: 'draft-mcgrew-gcm-test-01 §4 p.9 (GCM-256)',
    algorithm: 'AES-GCM-ESP',
    key: hex('abbccddef00112233445566778899aab abbccddef00112233445566778899aab'),
    spi: hex('4a2cbfe3'),
    seq: hex('00000002'),
    nonce: hex('112233440102030405060708'),
    plaintext: hex(`4500003069a6400080062690c0a80102 9389155e0a9e008b2dc57ee000000000
                    7002400020bf0000020405b401010402 01020201`),
    aad: hex('4a2cbfe300000002'),
    packet: hex(`4a2cbfe3000000020102030405060708 ff425c9b724599df7a3bcd510194e00d
                 6a78107f1b0b1cbf06efae9d65a5d763 748a637985771d347f0545659f14e99d
                 ef842d8eb335f4eecfdbf831824b4c49 15956c96`),
  },
  {
    // draft-mcgrew-gcm-test-01 §4, page 10: AES-GCM-ESP, all-zero 128-bit key, SPI 0
    name: 'draft-mcgrew-gcm-test-01 §4 p.10 (GCM-128, zero key)',
    algorithm: 'AES-GCM-ESP',
    key: hex('00000000000000000000000000000000'),
    spi: hex('00000000'),
    seq: hex('00000001'),
    nonce: hex('000000000000000000000000'),
    plaintext: hex(`4500003c99c500008001cb7a40679318 010101010800075c0200440061626364
                    65666768696a6b6c6d6e6f7071727374 75767761626364656667686901020201`),
    aad: hex('0000000000000001'),
    packet: hex(`00000000000000010000000000000000 4688daf2f973a392732909c331d56d60
                 f694abaa414b5e7ff5fdcdfff5e9a284 456476492719ffb64de7d9dca1e1d894
                 bc3bd57873ed4d181d19d4d5c8c18af3 f821d496eeb096e98ad2b69e4799c71d`),
  },
  {
    // draft-mcgrew-gcm-test-01 §4, page 11: AES-GCM-ESP, 128-bit key, ESN
    name: 'draft-mcgrew-gcm-test-01 §4 p.11 (GCM-128, ESN)',
    algorithm: 'AES-GCM-ESP',
    key: hex('3de09874b388e6491988d0c3607eae1f'),
    spi: hex('42f67e3f'),
    seq: hex('1010101010101010'),
    nonce: hex('57690e434e280000a2fca1a3'),
    plaintext: hex(`4500003c99c300008001cb7c40679318 010101010800085c0200430061626364
                    65666768696a6b6c6d6e6f7071727374 75767761626364656667686901020201`),
    aad: hex('42f67e3f1010101010101010'),
    packet: hex(`42f67e3f101010104e280000a2fca1a3 fba2caa4853cf9f0f22cb10d86dd83b0
                 fec75691cf1a04b00d1138ec9c357917 65acbd8701ad79845bf9fe3fba487bc9
                 1755e6662b4c8d0d1f5e22739530320a e0d731cc978ecafaeae88f00e80d6e48`),
  },
  {
    // draft-mcgrew-gcm-test-01 §4, page 12 (first): AES-GCM-ESP, 128-bit key, ESN, 28 octets
    name: 'draft-mcgrew-gcm-test-01 §4 p.12a (GCM-128, ESN)',
    algorithm: 'AES-GCM-ESP',
    key: hex('3de09874b388e6491988d0c3607eae1f'),
    spi: hex('42f67e3f'),
    seq: hex('1010101010101010'),
    nonce: hex('57690e434e280000a2fca1a3'),
    plaintext: hex('4500001c42a200008001441f406793b6 e00000020a00f5ff01020201'),
    aad: hex('42f67e3f1010101010101010'),
    packet: hex(`42f67e3f101010104e280000a2fca1a3 fba2ca845e5df9f0f22c3e6e86dd831e
                 1fc65792cd1af9130e1379ed369f071f 35e034be95f112e4e7d05d35`),
  },
  {
    // draft-mcgrew-gcm-test-01 §4, page 12 (second): AES-GCM-ESP, 192-bit key, 32-bit seq
    name: 'draft-mcgrew-gcm-test-01 §4 p.12b (GCM-192)',
    algorithm: 'AES-GCM-ESP',
    key: hex('feffe9928665731c6d6a8f9467308308 feffe9928665731c'),
    spi: hex('0000a5f8'),
    seq: hex('0000000a'),
    nonce: hex('cafebabefacedbaddecaf888'),
    plaintext: hex(`45000028a4ad4000400678800a01038f 0a010612802306b8cb712602dd6bb03e
                    501016d075680001`),
    aad: hex('0000a5f80000000a'),
    packet: hex(`0000a5f80000000afacedbaddecaf888 a5b1f8066029aea40e598b8122de0242
                 0938b3ab33f828e687b8858b5bfbdbd0 315b27452144cc7795457b9652037f53
                 18027b5b4cd7a636`),
  },
  {
    // draft-mcgrew-gcm-test-01 §4, page 13: AES-GCM-ESP, 128-bit key, ESN
    name: 'draft-mcgrew-gcm-test-01 §4 p.13 (GCM-128, ESN)',
    algorithm: 'AES-GCM-ESP',
    key: hex('abbccddef00112233445566778899aab'),
    spi: hex('00000100'),
    seq: hex('0000000000000001'),
    nonce: hex('decaf888cafedebaceface74'),
    plaintext: hex(`4500004933ba00007f119106c3fb1d10 c2b1d326c02831ce0035dd7b800302d5
                    00004e20001e8c18d75b81dc91baa047 6b91b924b280389d92c963bac046ec95
                    9b6266c04722b14923010101`),
    aad: hex('000001000000000000000001'),
    packet: hex(`0000010000000001cafedebaceface74 18a6fd42f72cbf4ab2a2ea901f73d814
                 e3e7f243d95412e1c349c1d2fbec168f 9190feebaf2cb01984e65863965d7472
                 b79da345e0e780191f0d2f0e0f496c22 6f2127b27db35724e7845d68651f57e6
                 5f354f75ff17015769623436`),
  },
  {
    // draft-mcgrew-gcm-test-01 §4, page 14: AES-GCM-ESP, 256-bit key, ESN
    name: 'draft-mcgrew-gcm-test-01 §4 p.14 (GCM-256, ESN)',
    algorithm: 'AES-GCM-ESP',
    key: hex('abbccddef00112233445566778899aab abbccddef00112233445566778899aab'),
    spi: hex('17405e67'),
    seq: hex('156f3126dd0db99b'),
    nonce: hex('73616c74616e640169766563'),
    plaintext: hex(`45080028732c00004006e9f90a010612 0a01038f06b88023dd6bafbecb712602
                    50101f646d540001`),
    aad: hex('17405e67156f3126dd0db99b'),
    packet: hex(`17405e67dd0db99b616e640169766563 f2d69ecdbd5a0d5b8d5ef38bad4da58d
                 1f278fde98ef67549d524a3018d9a57f f4d3a31ce673119e451626c2415771e3
                 b7eebca614c89b35`),
  },
  {
    // draft-mcgrew-gcm-test-01 §4, page 15: AES-GCM-ESP, 128-bit key, ESN, 76 octets
    name: 'draft-mcgrew-gcm-test-01 §4 p.15 (GCM-128, ESN)',
    algorithm: 'AES-GCM-ESP',
    key: hex('3de09874b388e6491988d0c3607eae1f'),
    spi: hex('42f67e3f'),
    seq: hex('1010101010101010'),
    nonce: hex('57690e434e280000a2fca1a3'),
    plaintext: hex(`45000049333e00007f119182c3fb1d10 c2b1d326c02831ce0035cb458003025b
                    000001e0001e8c18d65759d52284a035 2c71475c8880391c764d6e5ee0496b32
                    5ae270c03899493915010101`),
    aad: hex('42f67e3f1010101010101010'),
    packet: hex(`42f67e3f101010104e280000a2fca1a3 fba2cad12fc1f9f00d3cebf305410db8
                 3d7784b607323d220f24b0a97d541828 00cadb0f68d99ef0e0c0c89ae9bea888
                 4e52d65bc1afd0740f742444747b5b39 ab533163aad4550ee5160975cdb608c5
                 769189609763b8e18caa81e2`),
  },
  {
    // draft-mcgrew-gcm-test-01 §4, page 16: AES-GCM-ESP, 256-bit key, ESN, 72 octets
    name: 'draft-mcgrew-gcm-test-01 §4 p.16 (GCM-256, ESN)',
    algorithm: 'AES-GCM-ESP',
    key: hex('abbccddef00112233445566778899aab abbccddef00112233445566778899aab'),
    spi: hex('17405e67'),
    seq: hex('156f3126dd0db99b'),
    nonce: hex('73616c74616e640169766563'),
    plaintext: hex(`636973636f0172756c65730174686501 6e6574776501646566696e6501746865
                    746563686e6f6c6f6769657301746861 7477696c6c01646566696e65746f6d6f
                    72726f7701020201`),
    aad: hex('17405e67156f3126dd0db99b'),
    packet: hex(`17405e67dd0db99b616e640169766563 d4b7ed86a1777f2ea13d6973d324c69e
                 7b43f826fb56831226508bebd2dceb18 d0a6df10e5487df074113e14c641024e
                 3e6773d91a62ee429b043a10e3efe6b0 12a49363412364f8c0cac587f249e56b
                 11e24f30e44ccc76`),
  },
  {
    // draft-mcgrew-gcm-test-01 §4, page 17 (first): AES-GCM-ESP, 128-bit key, seq ffffffff
    name: 'draft-mcgrew-gcm-test-01 §4 p.17a (GCM-128, 4-octet plaintext)',
    algorithm: 'AES-GCM-ESP',
    key: hex('7d773d00c144c525ac619d18c84a3f47'),
    spi: hex('335467ae'),
    seq: hex('ffffffff'),
    nonce: hex('d966426743457e9182443bc6'),
    plaintext: hex('01020201'),
    aad: hex('335467aeffffffff'),
    packet: hex(`335467aeffffffff43457e9182443bc6 437f866bcb3f699fe9b0822bac961c45
                 04bef270`),
  },
  {
    // draft-mcgrew-gcm-test-01 §4, page 17 (second): AES-GCM-ESP, 128-bit key, ESN, 20 octets
    name: 'draft-mcgrew-gcm-test-01 §4 p.17b (GCM-128, ESN)',
    algorithm: 'AES-GCM-ESP',
    key: hex('abbccddef00112233445566778899aab'),
    spi: hex('00000100'),
    seq: hex('0000000000000001'),
    nonce: hex('decaf888cafedebaceface74'),
    plaintext: hex('746f016265016f72016e6f7401746f01 62650001'),
    aad: hex('000001000000000000000001'),
    packet: hex(`0000010000000001cafedebaceface74 29c9fc69a197d038ccdd14e2ddfcaa05
                 43332164412503524303ed3c6c5f2838 43af8c3e`),
  },
  {
    // draft-mcgrew-gcm-test-01 §4, page 18: AES-GCM-ESP, 256-bit key, ESN all ones
    name: 'draft-mcgrew-gcm-test-01 §4 p.18 (GCM-256, ESN ffffffffffffffff)',
    algorithm: 'AES-GCM-ESP',
    key: hex('6c6567616c697a656d6172696a75616e 61616e64646f69746265666f72656961'),
    spi: hex('796b6963'),
    seq: hex('ffffffffffffffff'),
    nonce: hex('7475726e333021696765746d'),
    plaintext: hex(`45000030da3a00008001df3bc0a80005 c0a800010800c6cd0200070061626364
                    65666768696a6b6c6d6e6f7071727374 01020201`),
    aad: hex('796b6963ffffffffffffffff'),
    packet: hex(`796b6963ffffffff333021696765746d f97ab2aa356d8edce17644ac8c78e25d
                 d24dedbb29ebf1b64a274b39b49c3a86 4cd3d78ca4ae68a32b42458fb57dbe82
                 1dcc63b9d0937ba2945f669368661a32 9fb4c053`),
  },
  {
    // draft-mcgrew-gcm-test-01 §4, page 19: AES-GMAC-ESP (ENCR_NULL_AUTH_AES_GMAC), 128-bit key
    name: 'draft-mcgrew-gcm-test-01 §4 p.19 (GMAC-128)',
    algorithm: 'AES-GMAC-ESP',
    key: hex('4c80cdefbb5d10da906ac73c3613a634'),
    spi: hex('00004321'),
    seq: hex('00000007'),
    nonce: hex('22433c640000000000000000'),
    plaintext: hex(''),
    aad: hex(`00004321000000070000000000000000 45000030da3a00008001df3bc0a80005
              c0a800010800c6cd0200070061626364 65666768696a6b6c6d6e6f7071727374
              01020201`),
    packet: hex(`00004321000000070000000000000000 45000030da3a00008001df3bc0a80005
                 c0a800010800c6cd0200070061626364 65666768696a6b6c6d6e6f7071727374
                 01020201f2a9a836e155106aa8dcd618 e4099aaa`),
  },
  {
    // draft-mcgrew-gcm-test-01 §4, page 20: AES-GCM-ESP, 128-bit key, ESN
    name: 'draft-mcgrew-gcm-test-01 §4 p.20 (GCM-128, ESN)',
    algorithm: 'AES-GCM-ESP',
    key: hex('3de09874b388e6491988d0c3607eae1f'),
    spi: hex('3f7ef642'),
    seq: hex('1010101010101010'),
    nonce: hex('57690e434e280000a2fca1a3'),
    plaintext: hex(`45000030da3a00008001df3bc0a80005 c0a800010800c6cd0200070061626364
                    65666768696a6b6c6d6e6f7071727374 01020201`),
    aad: hex('3f7ef6421010101010101010'),
    packet: hex(`3f7ef642101010104e280000a2fca1a3 fba2caa8c6c5f9f0f22ca54a061210ad
                 3f6e5791cf1aca210d117cec9c357917 65acbd8701ad79845bf9fe3fba487bc9
                 6321930684eecadb56912546e7a95c97 40d7cb05`),
  },
  {
    // draft-mcgrew-gcm-test-01 §4, page 21: AES-GCM-ESP, 128-bit key, ESN, 32 octets
    name: 'draft-mcgrew-gcm-test-01 §4 p.21 (GCM-128, ESN)',
    algorithm: 'AES-GCM-ESP',
    key: hex('4c80cdefbb5d10da906ac73c3613a634'),
    spi: hex('00004321'),
    seq: hex('8765432100000007'),
    nonce: hex('22433c644855ec7d3a234bfd'),
    plaintext: hex('0800c6cd020007006162636465666768 696a6b6c6d6e6f707172737401020201'),
    aad: hex('000043218765432100000007'),
    packet: hex(`00004321000000074855ec7d3a234bfd 74752e8aeb5d873cd7c0f4acc36c4bff
                 84b7d7b98f0ca8b6acda6894bc619069 ef9cbc28fe1b56a7c4e0d58c86cd2bc0`),
  },
];
