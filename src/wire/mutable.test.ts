import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { fromHex } from './bytes.ts';
import * as ipv4 from './ipv4.ts';
import { IpProtocol } from './ipv4.ts';
import * as ipv6 from './ipv6.ts';
import { zeroMutableFields } from './mutable.ts';

/** Hex with `//` comments per line. */
const hex = (text: string): Uint8Array => fromHex(text.replace(/\/\/.*$/gm, ''));

// An AH header (RFC 4302 §2) with a 96-bit ICV, followed by TCP; mutable.ts must not touch it.
const AH_AND_PAYLOAD = hex(`
  06 04 0000                  // next header TCP, payload length 4 (6 words − 2), reserved
  00001001 00000007           // SPI 0x1001, sequence number 7
  0123456789abcdef01234567    // ICV
  c2e7 0015 dead beef         // upper-layer bytes
`);

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function v4Packet(header: Partial<ipv4.Header>, rest: Uint8Array = AH_AND_PAYLOAD): Uint8Array {
  const h: ipv4.Header = {
    typeOfService: 0xb9,
    identification: 0x1234,
    dontFragment: false,
    moreFragments: false,
    fragmentOffset: 0,
    timeToLive: 64,
    protocol: IpProtocol.Ah,
    sourceAddress: ipv4.parseAddress('192.0.2.1'),
    destinationAddress: ipv4.parseAddress('198.51.100.7'),
    options: new Uint8Array(0),
    ...header,
  };
  const out = new Uint8Array(ipv4.headerLength(h) + rest.length);
  out.set(rest, ipv4.emit(h, out, rest.length));
  return out;
}

function v6Packet(header: Partial<ipv6.Header>, rest: Uint8Array = AH_AND_PAYLOAD): Uint8Array {
  const h: ipv6.Header = {
    trafficClass: 0xb9,
    flowLabel: 0xabcde,
    hopLimit: 64,
    sourceAddress: ipv6.parseAddress('2001:db8::aa'),
    destinationAddress: ipv6.parseAddress('2001:db8::bb'),
    extensions: [],
    nextHeader: IpProtocol.Ah,
    ...header,
  };
  const out = new Uint8Array(ipv6.headerLength(h) + rest.length);
  out.set(rest, ipv6.emit(h, out, rest.length));
  return out;
}

/** The ICV input of a packet: a zeroed copy; the packet itself is untouched. */
function icvInput(packet: Uint8Array, ahOffset?: number): Uint8Array {
  const copy = packet.slice();
  const r = zeroMutableFields(copy);
  assert.ok(r.ok, r.ok ? '' : JSON.stringify(r.error));
  if (ahOffset !== undefined) assert.equal(r.value.ahOffset, ahOffset);
  assert.deepEqual(
    copy.subarray(r.value.ahOffset),
    packet.subarray(r.value.ahOffset),
    'AH and after untouched'
  );
  return copy;
}

function refuse(packet: Uint8Array, layer: string, reason: string, offset: number): void {
  const copy = packet.slice();
  assert.deepEqual(zeroMutableFields(copy), { ok: false, error: { layer, reason, offset } });
  assert.deepEqual(copy, packet, 'unchanged on failure');
}

test('IPv4: base header mutable fields zeroed, options kept or zeroed whole by Appendix A1', () => {
  const options = hex(`
    94 04 0000              // Router Alert: immutable
    07 07 04 00000000       // Record Route: mutable
    82 04 abcd              // Security (RFC 1108): immutable
    9e 03 ff                // unassigned type 158: unrecognised, so zeroed (§3.3.3.1)
    44 08 05 00 c0000201    // Timestamp (68): mutable
    01                      // NOP: immutable
  `);
  const packet = v4Packet({ dontFragment: true, options });
  assert.equal(packet[0], 0x4c, 'IHL 12: 27 option bytes + 1 EOL');
  const input = icvInput(packet, 48);
  assert.deepEqual(
    input.subarray(0, 48),
    hex(`
      4c 00 ${(48 + AH_AND_PAYLOAD.length).toString(16).padStart(4, '0')} // TOS zeroed; total length kept
      1234 0000               // identification kept; flags and fragment offset zeroed
      00 33 0000              // TTL zeroed; protocol AH kept; checksum zeroed
      c0000201 c6336407       // addresses kept
      94 04 0000
      00 00 00 00000000
      82 04 abcd
      00 00 00
      00 00 00 00 00000000
      01
      00                      // EOL padding
    `)
  );
});

test('IPv4 loose and strict source routes: the ICV input is the same at sender, router and receiver', () => {
  // RFC 791 §3.1 LSRR/SSRR: the sender puts the first hop in Destination Address and the rest of
  // the route, ending with the final destination, in the option; each listed hop moves the next
  // address into Destination Address, records its own address in its place, and advances the
  // pointer. Routers also decrement TTL, may set DF or rewrite ECN, and fix the checksum.
  const [r1, r2, r1out, r2out, d] = [
    '203.0.113.1',
    '203.0.113.2',
    '198.18.0.1',
    '198.18.0.2',
    '198.51.100.7',
  ].map(ipv4.parseAddress);
  for (const type of [ipv4.OptionType.LooseSourceRoute, ipv4.OptionType.StrictSourceRoute]) {
    const route = (pointer: number, a: Uint8Array, b: Uint8Array): Uint8Array =>
      concat(Uint8Array.of(1, type, 11, pointer), a, b); // NOP, type, length 11, pointer
    const sender = v4Packet({ destinationAddress: r1, options: route(4, r2, d) });
    const hop = (packet: Uint8Array, myAddress: Uint8Array): Uint8Array => {
      const next = packet.slice();
      const v = new ipv4.View(next);
      const pointer = next[23];
      v.destinationAddress.set(next.subarray(20 + pointer, 24 + pointer));
      next.set(myAddress, 20 + pointer);
      next[23] = pointer + 4;
      v.timeToLive -= 1;
      v.typeOfService |= 3; // ECN CE
      v.dontFragment = true;
      v.fillChecksum();
      return next;
    };
    const atR2 = hop(sender, r1out);
    const receiver = hop(atR2, r2out);
    assert.deepEqual(new ipv4.View(receiver).destinationAddress, d, 'the simulation delivers to d');
    assert.equal(receiver[23], 12, 'route exhausted at the receiver');
    const expected = icvInput(sender, 32);
    assert.deepEqual(expected.subarray(16, 20), d, 'destination is the final one');
    assert.deepEqual(
      expected.subarray(20, 32),
      new Uint8Array(12).fill(0).fill(1, 0, 1),
      'option zeroed, NOP kept'
    );
    assert.deepEqual(icvInput(atR2), expected, 'in transit');
    assert.deepEqual(icvInput(receiver), expected, 'at the receiver');
  }
});

test('IPv4 refusals: no AH, fragments, malformed source routes, malformed packets', () => {
  refuse(v4Packet({ protocol: IpProtocol.Tcp }), 'ipv4', 'no-ah', 9);
  refuse(v4Packet({ moreFragments: true }), 'ipv4', 'fragment', 6);
  refuse(v4Packet({ fragmentOffset: 3 }), 'ipv4', 'fragment', 6);
  refuse(v4Packet({ options: fromHex('01 83 09 04 c0000201 00 00') }), 'ipv4', 'bad-option', 21);
  refuse(v4Packet({ options: fromHex('89 03 04 00') }), 'ipv4', 'bad-option', 20);
  refuse(v4Packet({}).subarray(0, 30), 'ipv4', 'length-mismatch', 2);
  refuse(new Uint8Array(0), 'ip', 'truncated', 0);
  refuse(fromHex('5f00'), 'ip', 'bad-version', 0);
});

test('IPv6: traffic class, flow label, hop limit zeroed; option data zeroed only if it may change', () => {
  const packet = v6Packet({
    extensions: [
      {
        type: 0,
        options: [
          { type: ipv6.OptionType.RouterAlert, data: fromHex('0000') }, // 0x05: immutable
          { type: ipv6.OptionType.Jumbo, data: fromHex('00012345') }, // 0xc2: change bit clear
          { type: 0x3e, data: fromHex('aabbccdd') }, // made up: 0x20 set, may change
        ],
      },
      {
        type: 60,
        options: [
          { type: ipv6.OptionType.TunnelEncapsulationLimit, data: fromHex('05') }, // 0x04
          { type: 0x7f, data: fromHex('eeff') }, // made up: 0x20 set
        ],
      },
    ],
  });
  const input = icvInput(packet, 40 + 24 + 16);
  assert.deepEqual(
    input.subarray(0, 80),
    hex(`
      6000 0000                               // version kept; traffic class, flow label zeroed
      ${(40 + AH_AND_PAYLOAD.length).toString(16).padStart(4, '0')} 00 00 // payload length, next header kept; hop limit zeroed
      2001 0db8 0000 0000 0000 0000 0000 00aa
      2001 0db8 0000 0000 0000 0000 0000 00bb
      3c 02                                   // HBH: next 60, 24 bytes
      05 02 0000                              // Router Alert kept
      c2 04 00012345                          // Jumbo kept
      3e 04 00000000                          // type and length kept, data zeroed
      01 04 00000000                          // PadN kept
      33 01                                   // Destination Options: next 51 (AH), 16 bytes
      04 01 05                                // Tunnel Encapsulation Limit kept
      7f 02 0000                              // data zeroed
      01 05 0000000000                        // PadN kept
    `)
  );
});

/** Address n of a test route: 2001:db8::n. */
const addr = (n: number): Uint8Array => ipv6.parseAddress(`2001:db8::${n.toString(16)}`);

function routing(
  routingType: number,
  segmentsLeft: number,
  addresses: Uint8Array[]
): ipv6.Extension {
  return { type: 43, routingType, segmentsLeft, data: concat(new Uint8Array(4), ...addresses) };
}

test('IPv6 Type 0 routing: sender, router and receiver give the receiver-order ICV input (Appendix A2)', () => {
  const [s, r1, r2, d] = [1, 0x11, 0x12, 0xd].map(addr);
  const sender = v6Packet({
    sourceAddress: s,
    destinationAddress: r1,
    extensions: [routing(0, 2, [r2, d])],
  });
  // RFC 2460 §4.4: at each listed node, i = n − Segments Left + 1; swap Destination Address
  // with Address[i]; decrement Segments Left (and the Hop Limit, as routers do).
  const hop = (packet: Uint8Array): Uint8Array => {
    const next = packet.slice();
    const v = new ipv6.View(next);
    const n = next[41] / 2;
    const i = n - next[43] + 1;
    const at = 48 + 16 * (i - 1);
    const swap = next.slice(at, at + 16);
    next.set(v.destinationAddress, at);
    v.destinationAddress.set(swap);
    next[43] -= 1;
    v.hopLimit -= 1;
    v.flowLabel = 0x55555;
    return next;
  };
  const atR2 = hop(sender);
  const receiver = hop(atR2);
  assert.deepEqual(new ipv6.View(receiver).destinationAddress, d);
  const expected = icvInput(sender, 80);
  assert.deepEqual(expected.subarray(24, 40), d, 'Destination Address as at the receiver');
  assert.deepEqual(
    expected.subarray(40, 80),
    concat(Uint8Array.of(51, 4, 0, 0), new Uint8Array(4), r1, r2)
  );
  assert.deepEqual(icvInput(atR2), expected, 'in transit');
  assert.deepEqual(icvInput(receiver), expected, 'at the receiver');
});

test('IPv6 Type 2 routing (Mobile IPv6): the home address becomes the destination', () => {
  const [careOf, home] = [0xc0a, 0x40e].map(addr);
  const packet = v6Packet({ destinationAddress: careOf, extensions: [routing(2, 1, [home])] });
  const input = icvInput(packet, 64);
  assert.deepEqual(input.subarray(24, 40), home);
  assert.deepEqual(
    input.subarray(40, 64),
    concat(Uint8Array.of(51, 2, 2, 0), new Uint8Array(4), careOf)
  );
});

test('IPv6 routing refusals and the finished route of other types', () => {
  // Segment Routing (type 4) with segments left: no receiver form defined for AH.
  refuse(
    v6Packet({ extensions: [routing(4, 1, [addr(1)])] }),
    'ipv6',
    'unsupported-routing-type',
    42
  );
  // With Segments Left 0 any type is already as the receiver sees it: kept.
  const done = v6Packet({ extensions: [routing(4, 0, [addr(1)])] });
  assert.deepEqual(icvInput(done, 64).subarray(40, 64), done.subarray(40, 64));
  // Type 0 with an odd Hdr Ext Len, or more segments left than addresses.
  refuse(
    v6Packet({
      extensions: [{ type: 43, routingType: 0, segmentsLeft: 1, data: new Uint8Array(28) }],
    }),
    'ipv6',
    'bad-routing',
    41
  );
  refuse(v6Packet({ extensions: [routing(0, 3, [addr(1), addr(2)])] }), 'ipv6', 'bad-routing', 43);
});

test('IPv6 refusals: fragments, no AH, unknown headers, malformed packets', () => {
  refuse(
    v6Packet({
      extensions: [{ type: 44, fragmentOffset: 0, moreFragments: true, identification: 9 }],
    }),
    'ipv6',
    'fragment',
    40
  );
  refuse(
    v6Packet({ extensions: [{ type: 0, options: [] }], nextHeader: IpProtocol.Tcp }),
    'ipv6',
    'no-ah',
    48
  );
  refuse(v6Packet({ nextHeader: IpProtocol.Esp }), 'ipv6', 'no-ah', 40);
  refuse(v6Packet({ nextHeader: 135 }), 'ipv6', 'unknown-header', 40); // Mobility Header: not walked
  refuse(v6Packet({}).subarray(0, 50), 'ipv6', 'length-mismatch', 4);
  const badOption = v6Packet({
    extensions: [{ type: 0, options: [{ type: 0x3e, data: fromHex('00') }] }],
  });
  badOption[43] = 9;
  refuse(badOption, 'ipv6', 'bad-option', 42);
});

test('AH after a Destination Options header is found at its offset, the one after AH is not touched', () => {
  const after = hex('3c00 3e02 aaaa 0100'); // a Destination Options header after AH
  const rest = concat(AH_AND_PAYLOAD.subarray(0, 24), after);
  rest[0] = 60;
  const packet = v6Packet(
    { extensions: [{ type: 60, options: [{ type: 0x3e, data: fromHex('bbbb') }] }] },
    rest
  );
  const input = icvInput(packet, 48);
  assert.deepEqual(input.subarray(40, 48), hex('3300 3e02 0000 0100'));
  assert.deepEqual(input.subarray(72), after);
});

test('property: mutable fields do not change the ICV input, immutable ones do', () => {
  const options = hex('94 04 0000 07 07 04 00000000 01');
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 255 }),
      fc.integer({ min: 0, max: 255 }),
      fc.boolean(),
      fc.uint8Array({ minLength: 4, maxLength: 4 }),
      fc.integer({ min: 20, max: 38 }),
      fc.integer({ min: 1, max: 255 }),
      (tos, ttl, df, recorded, immutableAt, flip) => {
        const base = v4Packet({ options });
        const changed = v4Packet({
          typeOfService: tos,
          timeToLive: ttl,
          dontFragment: df,
          options,
        });
        changed.set(recorded, 27); // Record Route data
        assert.deepEqual(icvInput(changed), icvInput(base));
        // Flip an immutable byte: RA data, NOP, or anything from AH on.
        const at = [22, 23, 31, ...Array.from({ length: 16 }, (_, i) => 32 + i)][immutableAt - 20];
        const tampered = base.slice();
        tampered[at] ^= flip;
        const t = zeroMutableFields(tampered.slice());
        if (t.ok) assert.notDeepEqual(icvInput(tampered), icvInput(base), `byte ${at}`);
      }
    ),
    { numRuns: 300 }
  );
  const v6 = (
    trafficClass: number,
    flowLabel: number,
    hopLimit: number,
    data: Uint8Array
  ): Uint8Array =>
    v6Packet({
      trafficClass,
      flowLabel,
      hopLimit,
      extensions: [
        {
          type: 0,
          options: [
            { type: 0x3e, data },
            { type: 5, data: fromHex('0001') },
          ],
        },
      ],
    });
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 255 }),
      fc.integer({ min: 0, max: 0xfffff }),
      fc.integer({ min: 0, max: 255 }),
      fc.uint8Array({ minLength: 3, maxLength: 3 }),
      fc.integer({ min: 0, max: 39 }),
      (trafficClass, flowLabel, hopLimit, data, at) => {
        const base = v6(0, 0, 0, new Uint8Array(3));
        assert.deepEqual(icvInput(v6(trafficClass, flowLabel, hopLimit, data)), icvInput(base));
        // Source/destination addresses and the Router Alert value are covered.
        const tampered = base.slice();
        const immutable = [...Array.from({ length: 32 }, (_, i) => 8 + i), 49, 50];
        tampered[immutable[at % immutable.length]] ^= 0x80;
        assert.notDeepEqual(icvInput(tampered), icvInput(base));
      }
    ),
    { numRuns: 300 }
  );
});

test('zeroMutableFields never throws on arbitrary bytes', () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ maxLength: 120 }),
      fc.constantFrom(0, 0x45, 0x46, 0x4f, 0x60),
      (bytes, first) => {
        if (first !== 0 && bytes.length > 0) bytes[0] = first;
        if (bytes.length >= 40 && first === 0x60) {
          bytes[4] = 0;
          bytes[5] = bytes.length - 40;
        }
        if (bytes.length >= 20 && first >= 0x45 && first <= 0x4f) {
          bytes[2] = 0;
          bytes[3] = bytes.length;
          bytes[9] = 51;
          bytes[6] &= 0x40;
          bytes[7] = 0;
        }
        const r = zeroMutableFields(bytes);
        if (r.ok) assert.ok(r.value.ahOffset <= bytes.length);
        else assert.ok(r.error.offset <= bytes.length);
      }
    ),
    { numRuns: 1000 }
  );
});
