/**
 * Canonical JSON text of a value (RFC 8785, JSON Canonicalization Scheme): object keys sorted by UTF-16 code
 * units, no whitespace, numbers and strings serialised as ECMAScript's JSON.stringify does. Two producers that
 * build the same event with keys in another order, or another whitespace, get the same text, so a hash of it
 * identifies content rather than formatting. Pure.
 *
 * Throws a RangeError for what has no JSON text (a non-finite number, a bigint, a function, undefined as a
 * value): such a value cannot have come out of JSON.parse, so meeting one is a caller's bug.
 */
export function canonicalJson(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return jsonString(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(value)) throw new RangeError(`canonical JSON: ${value} is not a JSON number`);
      // For a finite number JSON.stringify writes Number.prototype.toString's text (-0 as "0"): the same.
      return String(value);
    case 'object': {
      if (value === null) return 'null';
      if (Array.isArray(value)) {
        let out = '[';
        for (let i = 0; i < value.length; i++) out += (i === 0 ? '' : ',') + canonicalJson(value[i]);
        return `${out}]`;
      }
      const record = value as Record<string, unknown>;
      // Default sort compares UTF-16 code units, which is exactly RFC 8785's ordering.
      const keys = Object.keys(record);
      if (keys.length > 1) keys.sort();
      let out = '{';
      let first = true;
      for (const key of keys) {
        const v = record[key];
        if (v === undefined) continue; // as JSON.stringify: an undefined member is absent
        out += `${first ? '' : ','}${jsonString(key)}:${canonicalJson(v)}`;
        first = false;
      }
      return `${out}}`;
    }
    default:
      throw new RangeError(`canonical JSON: a ${typeof value} has no JSON text`);
  }
}

// Printable ASCII without `"` and `\`: its JSON text is the string in quotes. Most keys and values of events
// are such strings, and a regular-expression test is several times cheaper than JSON.stringify.
const PLAIN = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;

/** A string as JSON text, exactly what JSON.stringify (and RFC 8785) write. Pure. */
export function jsonString(s: string): string {
  return PLAIN.test(s) ? `"${s}"` : JSON.stringify(s);
}
