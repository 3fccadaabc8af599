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
  // The common case, an event's data: JSON.stringify already writes the canonical text (native, several times
  // faster than the walk below) when every object's keys are in order and every value has its JSON text.
  if (typeof value === 'object' && value !== null && inCanonicalOrder(value)) return JSON.stringify(value);
  return walk(value);
}

function walk(value: unknown): string {
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
        for (let i = 0; i < value.length; i++) out += (i === 0 ? '' : ',') + walk(value[i]);
        return `${out}]`;
      }
      const record = value as Record<string, unknown>;
      // Default sort compares UTF-16 code units, which is exactly RFC 8785's ordering.
      const keys = sortKeys(Object.keys(record));
      let out = '{';
      let first = true;
      for (const key of keys) {
        const v = record[key];
        if (v === undefined) continue; // as JSON.stringify: an undefined member is absent
        out += `${first ? '' : ','}${jsonString(key)}:${walk(v)}`;
        first = false;
      }
      return `${out}}`;
    }
    default:
      throw new RangeError(`canonical JSON: a ${typeof value} has no JSON text`);
  }
}

/**
 * Whether JSON.stringify(value) is its canonical text: plain objects (no toJSON, no prototype but Object's or
 * none) whose own keys come in strictly ascending UTF-16 order, arrays without holes, and strings, booleans,
 * null and finite numbers (JSON.stringify writes strings and numbers as RFC 8785 does). Anything else (an
 * undefined member, a non-finite number, a bigint, integer-like keys that Object.keys lists first) takes the
 * walk, which writes or refuses it as the RFC says.
 */
function inCanonicalOrder(value: object): boolean {
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) if (!isSimple(value[i])) return false;
    return true;
  }
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return false;
  const record = value as Record<string, unknown>;
  let previous: string | undefined;
  for (const key in record) {
    // for-in lists own enumerable string keys in Object.keys order here (the prototype is Object's or none,
    // whose properties are not enumerable unless someone made them so: then the walk decides).
    if (!Object.hasOwn(record, key)) return false;
    if (previous !== undefined && !(previous < key)) return false;
    previous = key;
    if (!isSimple(record[key])) return false;
  }
  return true;
}

/**
 * Keys in UTF-16 code-unit order, as Array#sort's default does; an insertion sort for the few keys an event's
 * objects have (no comparator call, no string conversion), the default sort for many.
 */
function sortKeys(keys: string[]): string[] {
  if (keys.length > 16) return keys.sort();
  for (let i = 1; i < keys.length; i++) {
    const k = keys[i] as string;
    let j = i - 1;
    while (j >= 0 && (keys[j] as string) > k) {
      keys[j + 1] = keys[j] as string;
      j--;
    }
    keys[j + 1] = k;
  }
  return keys;
}

function isSimple(v: unknown): boolean {
  switch (typeof v) {
    case 'string':
    case 'boolean':
      return true;
    case 'number':
      return Number.isFinite(v);
    case 'object':
      return v === null || inCanonicalOrder(v);
    default:
      return false;
  }
}

// Printable ASCII without `"` and `\`: its JSON text is the string in quotes. Most keys and values of events
// are such strings, and a regular-expression test is several times cheaper than JSON.stringify.
const PLAIN = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;

/** A string as JSON text, exactly what JSON.stringify (and RFC 8785) write. Pure. */
export function jsonString(s: string): string {
  return PLAIN.test(s) ? `"${s}"` : JSON.stringify(s);
}

/** Whether `s`'s JSON text is `s` in quotes (printable ASCII without `"` and `\`). */
export function isPlainJsonString(s: string): boolean {
  return PLAIN.test(s);
}
