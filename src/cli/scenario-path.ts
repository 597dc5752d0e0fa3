/**
 * @module
 * How scenario errors name a place and a value: the JSON path of a field (`sas[1].encryption`,
 * `hosts["host a"].mac`) and a short JSON rendering of what was found there.
 */

/** The JSON path of `path`: `a.b[2].c`; keys that are not identifiers in brackets. */
export function jsonPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else if (typeof p === 'string' && /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(p))
      out += out === '' ? p : `.${p}`;
    else out += `[${JSON.stringify(String(p))}]`;
  }
  return out === '' ? '(the file)' : out;
}

/** What was found: JSON, shortened to 60 characters; `nothing` when the field is missing. */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  let text: string = typeof value;
  try {
    const json: unknown = JSON.stringify(value);
    if (typeof json === 'string') text = json;
  } catch {
    // A cycle or a BigInt: the type will do.
  }
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/** A scenario error at `path`: `<path>: expected <expected>, got <found>`. */
export class ScenarioError extends TypeError {
  override readonly name = 'ScenarioError';
  constructor(path: readonly PropertyKey[], expected: string, found: unknown) {
    super(`${jsonPath(path)}: expected ${expected}, got ${describeValue(found)}`);
  }
}
