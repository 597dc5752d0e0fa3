/**
 * `ipsecov2 decode` end to end (issue 5): captures recorded by the two-host system (clean, and
 * with the fault injector's duplicates, corruptions, truncations and reorders), keys.json written
 * with `sim/keys.ts`, the command run in-process and as `node dist/src/cli/main.js decode`. Every
 * ESP frame of a clean run decrypts to its TCP/UDP line without a defect; every fault is annotated
 * on exactly the frames the injector's records name; bad files exit 2 naming what is wrong.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UsageError, type Io } from '../src/cli/command.ts';
import { decode } from '../src/cli/decode.ts';
import type { FaultRecord, ScheduledFault } from '../src/sim/faults.ts';
import { keyEntries } from '../src/sim/keys.ts';
import { System, type SystemFlow, type SystemSa, type SystemSpec } from '../src/sim/system.ts';
import * as ethernet from '../src/wire/ethernet.ts';
import * as ipv4 from '../src/wire/ipv4.ts';

const A = {
  name: 'a',
  mac: ethernet.parseMac('02:00:00:00:00:0a'),
  ipv4: ipv4.parseAddress('192.0.2.10'),
};
const B = {
  name: 'b',
  mac: ethernet.parseMac('02:00:00:00:00:0b'),
  ipv4: ipv4.parseAddress('198.51.100.20'),
};
const MAIN = new URL('../src/cli/main.js', import.meta.url).pathname;

function key(n: number, fill: number): Uint8Array {
  return new Uint8Array(n).map((_, i) => (fill * 31 + i * 7) & 0xff);
}

const base = {
  esn: false,
  initialSequence: 1n,
  replayWindow: 64,
  udpEncapsulation: null,
} as const;

const ends = (from: string): { source: Uint8Array; destination: Uint8Array } => ({
  source: from === 'a' ? A.ipv4 : B.ipv4,
  destination: from === 'a' ? B.ipv4 : A.ipv4,
});

const gcm = (from: string, name: string, fill = 1): SystemSa => ({
  ...base,
  ...ends(from),
  from,
  name,
  protocol: 'esp',
  mode: 'transport',
  esp: { spi: 0x2001, encryption: 'aes-gcm-128', integrity: null, encryptionKey: key(20, fill) },
});
const cbcTunnel = (from: string, name: string): SystemSa => ({
  ...base,
  ...ends(from),
  from,
  name,
  protocol: 'esp',
  mode: 'tunnel',
  esp: {
    spi: 0x2002,
    encryption: 'aes-cbc-128',
    integrity: 'hmac-sha256-128',
    encryptionKey: key(16, 2),
    integrityKey: key(32, 3),
  },
});
const ahSa = (from: string, name: string): SystemSa => ({
  ...base,
  ...ends(from),
  from,
  name,
  protocol: 'ah',
  mode: 'transport',
  ah: { spi: 0x2003, integrity: 'hmac-sha256-128', integrityKey: key(32, 4) },
});

function udpFlow(name: string, sa: SystemSa, port: number, count = 10): SystemFlow {
  return {
    name,
    from: sa.from,
    to: sa.from === 'a' ? 'b' : 'a',
    l4: 'udp',
    ipVersion: 4,
    srcPort: 40000 + port,
    dstPort: port,
    sa: sa.name,
    ...(sa.mode === 'tunnel' ? { destination: sa.destination } : {}),
    bytes: 200 * count,
    writeSize: 200,
  };
}

function tcpFlow(name: string, sa: SystemSa, port: number): SystemFlow {
  return {
    name,
    from: sa.from,
    to: sa.from === 'a' ? 'b' : 'a',
    l4: 'tcp',
    ipVersion: 4,
    srcPort: 40000 + port,
    dstPort: port,
    sa: sa.name,
    ...(sa.mode === 'tunnel' ? { destination: sa.destination } : {}),
    lso: { version: 2, mss: 500 },
    bytes: 5_000,
    writeSize: 2_000,
  };
}

interface Files {
  readonly dir: string;
  readonly pcapng: string;
  readonly keys: string;
  readonly records: readonly FaultRecord[];
  readonly sent: number;
}

/** Runs `spec` with a capture; writes capture.pcapng and keys.json; returns the fault records. */
function record(spec: Omit<SystemSpec, 'capture'>): Files {
  const system = new System({ ...spec, capture: true });
  const r = system.run();
  const dir = mkdtempSync(join(tmpdir(), 'ipsecov2-decode-'));
  const pcapng = join(dir, 'capture.pcapng');
  const keys = join(dir, 'keys.json');
  writeFileSync(pcapng, r.pcapng!);
  writeFileSync(keys, JSON.stringify({ sas: keyEntries(spec.sas, spec.hosts) }, null, 2));
  const injector = system.faults.aToB;
  return {
    dir,
    pcapng,
    keys,
    records: injector?.records ?? [],
    sent: injector?.counters.frames ?? 0,
  };
}

interface Output {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the decode command in-process as `main` would (UsageError → stderr, exit 2). */
async function run(args: readonly string[]): Promise<Output> {
  let stdout = '';
  let stderr = '';
  const io: Io = {
    stdout: (t) => (stdout += t),
    stderr: (t) => (stderr += t),
    tty: false,
  };
  try {
    const code = await decode.run(args, io);
    return { code, stdout, stderr };
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    return { code: 2, stdout, stderr: `${stderr}ipsecov2 decode: ${e.message}\n` };
  }
}

interface JsonLayer {
  readonly depth: number;
  readonly layer: string;
  readonly text: string;
  readonly defects: readonly string[];
}
interface JsonFrame {
  readonly frame: number;
  readonly length: number;
  readonly layers: readonly JsonLayer[];
  readonly defects: readonly string[];
}
interface JsonSummary {
  readonly frames: number;
  readonly framesWithDefects: number;
  readonly esp: { decrypted: number; failed: number; noKey: number };
  readonly ah: { verified: number; failed: number; noKey: number };
  readonly defects: Record<string, number>;
}

async function runJson(args: readonly string[]): Promise<{
  frames: JsonFrame[];
  summary: JsonSummary;
}> {
  const out = await run([...args, '--json']);
  assert.equal(out.code, 0, out.stderr);
  const rows = out.stdout
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l) as JsonFrame | { summary: JsonSummary });
  const last = rows.pop() as { summary: JsonSummary };
  return { frames: rows as JsonFrame[], summary: last.summary };
}

/** Capture frame numbers (1-based) of each injector index, for a run with traffic a→b only. */
function frameNumbers(records: readonly FaultRecord[], sent: number): number[][] {
  const out: number[][] = [];
  let n = 0;
  for (let i = 0; i < sent; i++) {
    const kinds = records.filter((r) => r.index === i).map((r) => r.kind);
    if (kinds.includes('drop')) out.push([]);
    else if (kinds.includes('duplicate')) out.push([++n, ++n]);
    else out.push([++n]);
  }
  return out;
}

const clean = record({
  seed: 3,
  hosts: [A, B],
  // Both directions use SPI 0x2001 with different keys: found by SPI and destination.
  sas: [gcm('a', 'gcm'), cbcTunnel('a', 'tunnel'), ahSa('a', 'ah'), gcm('b', 'back', 9)],
  flows: [
    udpFlow('udp', gcm('a', 'gcm'), 5001),
    tcpFlow('tcp', cbcTunnel('a', 'tunnel'), 443),
    udpFlow('ah-udp', ahSa('a', 'ah'), 5003, 4),
    udpFlow('back', gcm('b', 'back', 9), 5004, 3),
  ],
});

test('decode: a clean run — every ESP frame decrypted to its inner TCP/UDP line, AH verified, no defect, exit 0', async () => {
  const { frames, summary } = await runJson([clean.pcapng, '--keys', clean.keys]);
  assert.equal(frames.length, 10 + 10 + 4 + 3);
  for (const f of frames) {
    assert.deepEqual(f.defects, [], `#${f.frame}`);
    const espAt = f.layers.findIndex((l) => l.layer === 'esp');
    const ahAt = f.layers.findIndex((l) => l.layer === 'ah');
    assert.ok(espAt >= 0 || ahAt >= 0, `#${f.frame} is protected`);
    if (espAt >= 0) {
      assert.doesNotMatch(f.layers[espAt].text, /encrypted/);
      const inner = f.layers.slice(espAt + 1).map((l) => l.layer);
      assert.ok(inner.includes('udp') || inner.includes('tcp'), `#${f.frame}: ${inner.join()}`);
    } else {
      assert.match(f.layers[ahAt].text, /icv ok/);
      assert.equal(f.layers[ahAt + 1].layer, 'udp');
    }
  }
  assert.equal(summary.framesWithDefects, 0);
  assert.deepEqual(summary.esp, { decrypted: 23, failed: 0, noKey: 0 });
  assert.deepEqual(summary.ah, { verified: 4, failed: 0, noKey: 0 });
  assert.deepEqual(summary.defects, {});

  const text = await run([clean.pcapng, '--keys', clean.keys, '--strict']);
  assert.equal(text.code, 0);
  assert.match(text.stdout, /^#1 \d+\.\d{9} \d+ bytes out\neth /);
  assert.match(text.stdout, /\\ tcp 40443 > 443 seq=\d+ ack=\d+ \[\w*\] win=\d+ len=500/);
  assert.match(text.stdout, /\\ ipv4 192\.0\.2\.10 > 198\.51\.100\.20 tcp /); // tunnel inner header
  assert.match(text.stdout, /^#\d+ [\d.]+ \d+ bytes in$/m); // b → a
  assert.match(text.stdout, /summary: 27 frames, 0 with defects\n {2}esp: 23 decrypted/);
  assert.doesNotMatch(text.stdout, /\(/);
});

test('decode: without --keys ESP prints "encrypted" and AH is not judged', async () => {
  const { frames, summary } = await runJson([clean.pcapng]);
  const esp = frames.flatMap((f) => f.layers.filter((l) => l.layer === 'esp'));
  assert.equal(esp.length, 23);
  for (const l of esp) assert.match(l.text, /encrypted=\d+$/);
  for (const f of frames) assert.deepEqual(f.defects, []);
  assert.deepEqual(summary.esp, { decrypted: 0, failed: 0, noKey: 23 });
  assert.deepEqual(summary.ah, { verified: 0, failed: 0, noKey: 4 });
});

test('decode: --frames reports a range, still judging replays against earlier frames', async () => {
  const { frames, summary } = await runJson([
    clean.pcapng,
    '--keys',
    clean.keys,
    '--frames',
    '3-5',
  ]);
  assert.deepEqual(
    frames.map((f) => f.frame),
    [3, 4, 5]
  );
  assert.equal(summary.frames, 27);
  const bad = await run([clean.pcapng, '--frames', '5-3']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--frames: expected 1 ≤ N ≤ M, got "5-3"/);
});

const faulted = (() => {
  const sa = gcm('a', 'gcm');
  const schedule: ScheduledFault[] = [
    { index: 2, kind: 'duplicate' },
    { index: 5, kind: 'corrupt', offset: 80, xor: 0x40 },
    { index: 7, kind: 'truncate', length: 100 },
    { index: 9, kind: 'duplicate' },
    { index: 11, kind: 'corrupt', offset: 60, xor: 0x01 },
    { index: 14, kind: 'drop' },
    { index: 16, kind: 'truncate', length: 30 },
  ];
  return record({
    seed: 7,
    hosts: [A, B],
    sas: [sa],
    flows: [udpFlow('udp', sa, 5001, 20)],
    link: { faultsAToB: { schedule } },
  });
})();

test('decode: each fault is annotated exactly on the frames the injector recorded — duplicate → replay, corrupt → icv mismatch, truncate → truncated', async () => {
  const { frames, summary } = await runJson([faulted.pcapng, '--keys', faulted.keys]);
  const numbers = frameNumbers(faulted.records, faulted.sent);
  const expected = new Map<number, string[]>();
  for (const r of faulted.records) {
    const at = numbers[r.index];
    if (r.kind === 'duplicate') expected.set(at[1], [`esp: replay of #${at[0]}`]);
    if (r.kind === 'corrupt') expected.set(at[0], ['esp: icv mismatch']);
    if (r.kind === 'truncate') {
      expected.set(
        at[0],
        r.length >= 34
          ? ['ipv4: length mismatch at 16', `ipv4: truncated at ${r.length}`]
          : [`ipv4: truncated at ${r.length}`]
      );
    }
  }
  assert.equal(expected.size, 6);
  assert.equal(frames.length, 20 + 2 - 1);
  for (const f of frames) {
    assert.deepEqual(f.defects, expected.get(f.frame) ?? [], `#${f.frame}`);
  }
  assert.deepEqual(summary.defects, {
    replay: 2,
    'icv mismatch': 2,
    truncated: 2,
    'length mismatch': 1,
  });
  assert.equal(summary.framesWithDefects, 6);
  assert.deepEqual(summary.esp, { decrypted: 17, failed: 2, noKey: 0 });

  const text = await run([faulted.pcapng, '--keys', faulted.keys]);
  assert.equal(text.code, 0, 'defects alone do not fail the decode');
  assert.match(text.stdout, /next=udp \(replay of #3\)\n/);
  const strict = await run([faulted.pcapng, '--keys', faulted.keys, '--strict']);
  assert.equal(strict.code, 1);
});

test('decode: a duplicate is a replay even without keys (wire sequence numbers); a corrupted frame is not judged then', async () => {
  const { frames } = await runJson([faulted.pcapng]);
  const numbers = frameNumbers(faulted.records, faulted.sent);
  const replays = frames.filter((f) => f.defects.some((d) => d.includes('replay')));
  assert.deepEqual(
    replays.map((f) => [f.frame, f.defects]),
    [
      [numbers[2][1], [`esp: replay of #${numbers[2][0]}`]],
      [numbers[9][1], [`esp: replay of #${numbers[9][0]}`]],
    ]
  );
});

test('decode: a frame held back past the window is annotated "too old for window W" (--window), not with --window 0', async () => {
  const sa = gcm('a', 'gcm');
  const files = record({
    seed: 7,
    hosts: [A, B],
    sas: [sa],
    flows: [udpFlow('udp', sa, 5001, 16)],
    link: { faultsAToB: { schedule: [{ index: 3, kind: 'reorder', hold: 8 }] } },
  });
  const w4 = await runJson([files.pcapng, '--keys', files.keys, '--window', '4']);
  const late = w4.frames.filter((f) => f.defects.length > 0);
  assert.equal(late.length, 1);
  assert.equal(late[0].frame, 12); // frames 4–11 overtook it
  assert.deepEqual(late[0].defects, ['esp: too old for window 4 (highest 12 at #11)']);
  assert.deepEqual(w4.summary.defects, { 'too old': 1 });
  const w64 = await runJson([files.pcapng, '--keys', files.keys]);
  assert.equal(w64.summary.framesWithDefects, 0);
  const w0 = await runJson([files.pcapng, '--keys', files.keys, '--window', '0']);
  assert.equal(w0.summary.framesWithDefects, 0);
});

test('decode: ESN across 2^32 — the keyring follows the high half, every frame decrypts, a duplicate after the wrap is a replay of its 64-bit number', async () => {
  const sa: SystemSa = { ...gcm('a', 'gcm'), esn: true, initialSequence: 2n ** 32n - 4n };
  const files = record({
    seed: 5,
    hosts: [A, B],
    sas: [sa],
    flows: [udpFlow('udp', sa, 5001, 10)],
    link: { faultsAToB: { schedule: [{ index: 7, kind: 'duplicate' }] } },
  });
  const { frames, summary } = await runJson([files.pcapng, '--keys', files.keys]);
  assert.equal(frames.length, 11);
  assert.deepEqual(summary.esp, { decrypted: 11, failed: 0, noKey: 0 });
  const seqs = frames.map((f) => /seq=(\d+)/.exec(f.layers[2].text)![1]);
  assert.deepEqual(seqs.slice(0, 5), ['4294967292', '4294967293', '4294967294', '4294967295', '0']);
  assert.deepEqual(
    frames.filter((f) => f.defects.length > 0).map((f) => [f.frame, f.defects]),
    [[9, ['esp: replay of #8']]]
  );
});

test('decode: a bad keys.json exits 2 naming the JSON path, what was expected and what was found', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ipsecov2-decode-'));
  const good = JSON.parse(JSON.stringify({ sas: keyEntries([gcm('a', 'gcm')], [A, B]) })) as {
    sas: Record<string, unknown>[];
  };
  good.sas[0]['spi'] = 'zz';
  const badField = join(dir, 'bad-field.json');
  writeFileSync(badField, JSON.stringify(good));
  const out = await run([clean.pcapng, '--keys', badField]);
  assert.equal(out.code, 2);
  assert.match(
    out.stderr,
    /bad-field\.json: sas\[0\]\.spi: expected a hex string like "0x00001001", found "zz"/
  );
  assert.equal(out.stdout, '');

  const notJson = join(dir, 'not.json');
  writeFileSync(notJson, '{"sas": [');
  const out2 = await run([clean.pcapng, '--keys', notJson]);
  assert.equal(out2.code, 2);
  assert.match(out2.stderr, /not\.json: expected JSON, found /);

  const missing = await run([clean.pcapng, '--keys', join(dir, 'nope.json')]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /--keys: cannot read .*nope\.json/);
});

test('decode: a file that is not a pcapng capture exits 2 with the reason and byte offset', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ipsecov2-decode-'));
  const junk = join(dir, 'junk.pcapng');
  writeFileSync(junk, 'hello, not a capture');
  const out = await run([junk]);
  assert.equal(out.code, 2);
  assert.match(
    out.stderr,
    /junk\.pcapng: not a readable pcapng capture: bad magic at byte offset 0/
  );

  const bytes = readFileSync(clean.pcapng);
  const cut = join(dir, 'cut.pcapng');
  writeFileSync(cut, bytes.subarray(0, bytes.length - 10));
  const out2 = await run([cut]);
  assert.equal(out2.code, 2);
  assert.match(out2.stderr, new RegExp(`truncated at byte offset ${bytes.length - 10}`));

  const none = await run([]);
  assert.equal(none.code, 2);
  assert.match(none.stderr, /expected one FILE\.pcapng, got none/);
});

test('decode: as a process — node dist/src/cli/main.js decode: output, --json, --strict, exit codes', () => {
  const ok = spawnSync('node', [MAIN, 'decode', faulted.pcapng, '--keys', faulted.keys], {
    encoding: 'utf8',
  });
  assert.equal(ok.status, 0, ok.stderr);
  assert.match(ok.stdout, /\(icv mismatch\)/);
  assert.match(ok.stdout, /\(replay of #3\)/);
  assert.match(ok.stdout, /\(truncated at 100\)/);
  assert.match(ok.stdout, /defects: icv mismatch 2, length mismatch 1, replay 2, truncated 2\n$/);

  const strict = spawnSync('node', [MAIN, 'decode', faulted.pcapng, '--strict', '--json'], {
    encoding: 'utf8',
  });
  assert.equal(strict.status, 1);
  for (const line of strict.stdout.trimEnd().split('\n')) JSON.parse(line);

  const bad = spawnSync('node', [MAIN, 'decode', clean.keys], { encoding: 'utf8' });
  assert.equal(bad.status, 2);
  assert.match(
    bad.stderr,
    /^ipsecov2 decode: .*keys\.json: not a readable pcapng capture: bad magic at byte offset 0\n$/
  );

  const help = spawnSync('node', [MAIN, 'decode', '--help'], { encoding: 'utf8' });
  assert.equal(help.status, 0);
  assert.match(help.stdout, /^usage: ipsecov2 decode FILE\.pcapng \[--keys keys\.json\]/);
  const list = spawnSync('node', [MAIN, '--help'], { encoding: 'utf8' });
  assert.match(list.stdout, /\n {2}decode +a pcapng capture layer by layer/);

  const unknown = spawnSync('node', [MAIN, 'decode', clean.pcapng, '--bogus'], {
    encoding: 'utf8',
  });
  assert.equal(unknown.status, 2);
});
