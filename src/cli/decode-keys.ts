/**
 * @module
 * keys.json (`sim/keys.ts`) into the decoder's `Keyring`: each SA entry becomes one receive-side
 * transform, built once, found by protocol, SPI and destination. A file that is not JSON, or
 * whose first bad field `parseKeys` names, is a `UsageError` (exit 2) with the JSON path, what
 * was expected and what was found.
 */
import { readFileSync } from 'node:fs';
import { Keyring } from '../sim/keyring.ts';
import { parseKeys, toSaDescription } from '../sim/keys.ts';
import * as ipv4 from '../wire/ipv4.ts';
import * as ipv6 from '../wire/ipv6.ts';
import { UsageError } from './command.ts';

/** The keys of keys.json text `text` (read from `file`, for messages) as a Keyring. */
export function keyringFromJson(text: string, file: string): { keyring: Keyring; sas: number } {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new UsageError(`${file}: expected JSON, found ${(e as Error).message}`);
  }
  const parsed = parseKeys(json);
  if (!parsed.ok) {
    throw new UsageError(
      `${file}: ${parsed.path}: expected ${parsed.expected}, found ${parsed.found}`
    );
  }
  const keyring = new Keyring();
  parsed.value.sas.forEach((entry, i) => {
    const destination = entry.dst.includes(':')
      ? ipv6.parseAddress(entry.dst)
      : ipv4.parseAddress(entry.dst);
    try {
      keyring.add(toSaDescription(entry), destination);
    } catch (e) {
      throw new UsageError(`${file}: sas[${i}]: ${(e as Error).message}`);
    }
  });
  return { keyring, sas: parsed.value.sas.length };
}

/** Reads keys.json at `file` into a Keyring; a missing file is a `UsageError`. */
export function loadKeys(file: string): { keyring: Keyring; sas: number } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new UsageError(`--keys: cannot read ${file}: ${(e as Error).message}`);
  }
  return keyringFromJson(text, file);
}
