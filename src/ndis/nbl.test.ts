import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  MaxNetBufferListInfo,
  NblInfo,
  NetBuffer,
  NetBufferList,
  NetBufferListInfo,
  chain,
  chainLength,
  link,
} from './nbl.ts';

test('slot numbers match nblinfo.h (reference §2.12)', () => {
  assert.equal(NetBufferListInfo.TcpIpChecksumNetBufferListInfo, 0);
  assert.equal(NetBufferListInfo.IPsecOffloadV1NetBufferListInfo, 1);
  assert.equal(NetBufferListInfo.IPsecOffloadV2NetBufferListInfo, 1);
  assert.equal(NetBufferListInfo.TcpLargeSendNetBufferListInfo, 2);
  assert.equal(NetBufferListInfo.ClassificationHandleNetBufferListInfo, 3);
  assert.equal(NetBufferListInfo.Ieee8021QNetBufferListInfo, 4);
  assert.equal(NetBufferListInfo.NetBufferListCancelId, 5);
  assert.equal(NetBufferListInfo.MediaSpecificInformation, 6);
  assert.equal(NetBufferListInfo.NetBufferListFrameType, 7);
  assert.equal(NetBufferListInfo.NetBufferListHashValue, 8);
  assert.equal(NetBufferListInfo.NetBufferListHashInfo, 9);
  assert.equal(NetBufferListInfo.WfpNetBufferListInfo, 10);
  assert.equal(NetBufferListInfo.IPsecOffloadV2TunnelNetBufferListInfo, 11);
  assert.equal(NetBufferListInfo.IPsecOffloadV2HeaderNetBufferListInfo, 12);
  assert.equal(MaxNetBufferListInfo, 18, 'at least the 13 slots of Vista SP1');
  for (const slot of Object.values(NetBufferListInfo)) assert.ok(slot < MaxNetBufferListInfo);
});

test('a raw slot value copied from a Windows trace is stored and read back unchanged', () => {
  const info = new NblInfo();
  const trace = 0xffffa38d_1c2b3a48n; // an x64 kernel-mode handle
  info.set(NetBufferListInfo.IPsecOffloadV2NetBufferListInfo, trace);
  assert.equal(info.get(1), trace);
  assert.equal(info.getU32(1), 0x1c2b3a48);
  assert.equal(info.getHighU32(1), 0xffffa38d);
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: MaxNetBufferListInfo - 1 }),
      fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
      (slot, v) => {
        info.set(slot, v);
        assert.equal(info.get(slot), v);
        assert.equal(info.getU32(slot), Number(v & 0xffffffffn));
      }
    )
  );
});

test('setU32 zero-extends into the whole slot; slots are independent', () => {
  const info = new NblInfo();
  info.set(12, 0xffffffff_ffffffffn);
  info.setU32(12, 0x05000206);
  assert.equal(info.get(12), 0x05000206n);
  info.set(11, 1n);
  assert.equal(info.get(12), 0x05000206n);
  assert.equal(info.get(10), 0n);
  info.clear();
  assert.equal(info.get(11), 0n);
  assert.equal(info.get(12), 0n);
});

test('NblInfo refuses bad slots and values with a RangeError', () => {
  const info = new NblInfo();
  assert.throws(() => info.get(MaxNetBufferListInfo), /expected a slot from 0 to/);
  assert.throws(() => info.get(-1), RangeError);
  assert.throws(() => {
    info.set(0, -1n);
  }, /expected a value from 0 to 2\^64-1/);
  assert.throws(() => {
    info.set(0, 2n ** 64n);
  }, RangeError);
  assert.throws(() => {
    info.setU32(0, 2 ** 32);
  }, /expected an integer from 0 to 0xFFFFFFFF/);
  assert.throws(() => {
    info.setU32(0, 1.5);
  }, RangeError);
});

test('NetBuffer: data() is the window and is cached until the window changes', () => {
  const mem = Uint8Array.from({ length: 32 }, (_, i) => i);
  const nb = new NetBuffer(mem, 8, 10);
  assert.equal(nb.dataOffset, 8);
  assert.equal(nb.dataLength, 10);
  const d = nb.data();
  assert.deepEqual([...d], [8, 9, 10, 11, 12, 13, 14, 15, 16, 17]);
  assert.equal(nb.data(), d, 'no allocation per call');
  assert.equal(d.buffer, mem.buffer, 'a view, not a copy');
  nb.retreat(8);
  assert.equal(nb.dataOffset, 0);
  assert.equal(nb.dataLength, 18);
  assert.notEqual(nb.data(), d);
  nb.advance(14);
  assert.deepEqual([...nb.data()], [14, 15, 16, 17]);
  assert.throws(() => {
    nb.advance(5);
  }, /expected 0 to 4 bytes, got 5/);
  assert.throws(() => {
    nb.retreat(15);
  }, /expected 0 to 14 bytes of unused space, got 15/);
  assert.throws(() => {
    nb.setWindow(30, 3);
  }, RangeError);
  nb.reset();
  assert.equal(nb.dataLength, 0);
  assert.equal(nb.memory.length, 0);
});

test('NetBuffer defaults to the whole memory', () => {
  const nb = new NetBuffer(new Uint8Array(5));
  assert.equal(nb.dataOffset, 0);
  assert.equal(nb.dataLength, 5);
});

test('NetBufferList: reset() returns a pooled NBL to its just-allocated state', () => {
  const nbl = new NetBufferList(new NetBuffer(new Uint8Array(4)), new NetBuffer(new Uint8Array(8)));
  assert.equal(nbl.netBuffers.length, 2);
  nbl.status = 0xc0000001;
  nbl.info.set(1, 0x1234n);
  nbl.protocolReserved = { owner: 'transport' };
  nbl.next = new NetBufferList();
  const buffers = nbl.netBuffers;
  nbl.reset();
  assert.equal(nbl.netBuffers, buffers, 'the same array is reused');
  assert.equal(nbl.netBuffers.length, 0);
  assert.equal(nbl.status, 0);
  assert.equal(nbl.info.get(1), 0n);
  assert.equal(nbl.protocolReserved, undefined);
  assert.equal(nbl.next, null);
});

test('NBL chains: link, iterate in order, count', () => {
  const nbls = [new NetBufferList(), new NetBufferList(), new NetBufferList()];
  const first = link(nbls);
  assert.equal(first, nbls[0]);
  assert.deepEqual([...chain(first)], nbls);
  assert.equal(chainLength(first), 3);
  assert.equal(nbls[2].next, null);
  assert.equal(link([]), null);
  assert.deepEqual([...chain(null)], []);
  assert.equal(chainLength(null), 0);
});
