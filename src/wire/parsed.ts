/**
 * @module
 * The result of parsing bytes from the wire: a value, or the reason and the byte offset at which
 * the bytes stopped making sense. Parsers never throw on malformed input (contract §4, kind 1);
 * a throw from a parser is a bug in this package.
 */

/** Why a layer could not be parsed, and where (offset relative to the bytes given to `parse`). */
export interface Malformed {
  /** The protocol layer that refused the bytes, e.g. `'ipv4'`. */
  readonly layer: string;
  /** A short machine-readable reason, e.g. `'truncated'`, `'bad-version'`. */
  readonly reason: string;
  /** Offset of the first offending byte, relative to the start of the layer's bytes. */
  readonly offset: number;
}

/** A parse result: `ok` with a value, or not `ok` with a {@link Malformed} reason. */
export type Parsed<T> =
  { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: Malformed };

/** Wraps a successfully parsed value. */
export function ok<T>(value: T): Parsed<T> {
  return { ok: true, value };
}

/** Builds a failed parse result. */
export function malformed<T = never>(layer: string, reason: string, offset: number): Parsed<T> {
  return { ok: false, error: { layer, reason, offset } };
}

/** Shifts a failure's offset by `base` (for a layer parsed inside another); passes `ok` through. */
export function rebase<T>(result: Parsed<T>, base: number): Parsed<T> {
  if (result.ok) return result;
  const e = result.error;
  return { ok: false, error: { layer: e.layer, reason: e.reason, offset: e.offset + base } };
}

/** Renders a failure as `layer: reason at offset N`. */
export function describe(error: Malformed): string {
  return `${error.layer}: ${error.reason} at offset ${error.offset}`;
}
