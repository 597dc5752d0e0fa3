/**
 * @module
 * Byte helpers for the vector files: hex with any whitespace, ASCII text, repeated bytes. Vectors
 * stay in the notation of their sources (hex dumps, quoted strings, "0xdd repeated 50 times").
 */

/** Decodes hex, ignoring whitespace; throws on odd length or a non-hex digit. */
export function hex(text: string): Uint8Array {
  const clean = text.replace(/\s+/g, '');
  if (clean.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(clean)) {
    throw new TypeError(`hex: expected an even number of hex digits, got ${JSON.stringify(text)}`);
  }
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** Encodes bytes as lowercase hex. */
export function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** The bytes of an ASCII string (test vectors never include a trailing NUL). */
export function ascii(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

/** `count` copies of `byte`. */
export function repeat(byte: number, count: number): Uint8Array {
  return new Uint8Array(count).fill(byte);
}

/** The concatenation of the given byte arrays. */
export function concat(...parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
