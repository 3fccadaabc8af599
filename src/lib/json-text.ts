import type { ReasonCode } from './errors.ts';

/**
 * What `JSON.parse` hides: a key given twice in one object (it keeps the last value) and a number whose text
 * means more than a double can hold (`100.0000000000000001` becomes 100, `9007199254740993` becomes ...992).
 * Both must be refused, not guessed at, so these functions look at the JSON text itself. They expect text
 * that `JSON.parse` has already accepted.
 *
 * The number rule, applied to every number in the text:
 *   - it must be finite as a double (`1e400` is not);
 *   - an integer written without fraction or exponent must be a safe integer (|n| <= 2^53-1): larger
 *     integers belong in strings, or some would get through and their neighbours not;
 *   - its decimal value must be exactly the shortest decimal that reads back to the same double (what
 *     `String(n)` prints), notation aside: `1.50`, `1.5e0` and `15e-1` are all `1.5`; `0.1000000000000000055`
 *     and `1e-400` are refused.
 * A number of at most 15 characters without an exponent always passes (a double holds 15 significant
 * digits exactly), so only long numbers pay for the comparison.
 */
export interface JsonTextIssue {
  reason: Extract<ReasonCode, 'duplicate_key' | 'imprecise_number'>;
  message: string;
  /** Where, in the dotted form `checkShape` uses: `.a.b[2]`, empty for the root. */
  path: string;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COLON = 0x3a;

/**
 * One pass over the text, without allocating on clean input: the number of object members in it (so the
 * caller can compare it with the keys the parsed value has: fewer keys means a key was repeated), or -1 when
 * a number breaks the number rule. Then {@link findJsonTextIssue} says where.
 */
export function scanJsonText(text: string): number {
  let members = 0;
  const n = text.length;
  let i = 0;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) i = stringEnd(text, i);
    else if (c === COLON) {
      members += 1; // outside strings a colon only ever separates a key from its value
      i += 1;
    } else if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
      let exponent = false;
      let j = i + 1;
      for (; j < n; j++) {
        const d = text.charCodeAt(j);
        if (d === 0x65 || d === 0x45) exponent = true;
        else if (!((d >= 0x30 && d <= 0x39) || d === 0x2e || d === 0x2b || d === 0x2d)) break;
      }
      if ((exponent || j - i > 15) && !numberTextIsExact(text.slice(i, j))) return -1;
      i = j;
    } else i += 1;
  }
  return members;
}

/** Whether one JSON number's text passes the number rule (see the top of this file). */
export function numberTextIsExact(literal: string): boolean {
  return numberTextProblem(literal) === undefined;
}

/** What is wrong with one JSON number's text under the number rule, or `undefined`. */
export function numberTextProblem(literal: string): string | undefined {
  const value = Number(literal);
  const shown = literal.length > 64 ? `${literal.slice(0, 64)}…` : literal;
  if (!Number.isFinite(value)) return `number ${shown} is out of the range of a double`;
  if (!/[.eE]/.test(literal) && !Number.isSafeInteger(value))
    return `integer ${shown} is beyond ±9007199254740991 (2^53-1): send it as a string`;
  if (canonicalDecimal(literal) !== canonicalDecimal(String(value)))
    return `number ${shown} cannot be held exactly by a double (it reads as ${String(value)})`;
  return undefined;
}

/** `<sign><digits without leading or trailing zeros>e<position of the point>`, or `0`: notation removed. */
function canonicalDecimal(text: string): string {
  const negative = text.charCodeAt(0) === 0x2d;
  const e = text.search(/[eE]/);
  const mantissa = text.slice(negative ? 1 : 0, e < 0 ? text.length : e);
  const exponent = e < 0 ? 0 : Number(text.slice(e + 1));
  const dot = mantissa.indexOf('.');
  const whole = dot < 0 ? mantissa : mantissa.slice(0, dot);
  const all = dot < 0 ? mantissa : whole + mantissa.slice(dot + 1);
  let lead = 0;
  while (lead < all.length && all.charCodeAt(lead) === 0x30) lead++;
  const significant = all.slice(lead).replace(/0+$/, '');
  if (significant === '') return '0';
  return `${negative ? '-' : ''}${significant}e${whole.length + exponent - lead}`;
}

interface Frame {
  array: boolean;
  path: string;
  keys: Set<string> | undefined;
  /** Object: the current member's key; array: the current index. */
  key: string;
  index: number;
  expectKey: boolean;
}

/**
 * The first repeated key or imprecise number in the text, in document order, with its path; `undefined` when
 * there is none. Slower than {@link scanJsonText} (it builds paths and a key set per object): for bad input,
 * and for places off the hot path.
 */
export function findJsonTextIssue(text: string): JsonTextIssue | undefined {
  const stack: Frame[] = [];
  const valuePath = (): string => {
    const top = stack[stack.length - 1];
    if (!top) return '';
    return top.array ? `${top.path}[${top.index}]` : `${top.path}.${top.key}`;
  };
  const n = text.length;
  let i = 0;
  while (i < n) {
    const c = text.charCodeAt(i);
    const top = stack[stack.length - 1];
    if (c === QUOTE) {
      const end = stringEnd(text, i);
      if (top && !top.array && top.expectKey) {
        const key = JSON.parse(text.slice(i, end)) as string; // escapes decoded: "a" and "\u0061" are one key
        top.keys ??= new Set();
        if (top.keys.has(key))
          return {
            reason: 'duplicate_key',
            message: `key ${JSON.stringify(key.slice(0, 64))} appears twice in one object`,
            path: `${top.path}.${key}`,
          };
        top.keys.add(key);
        top.key = key;
        top.expectKey = false;
      }
      i = end;
    } else if (c === 0x7b || c === 0x5b) {
      stack.push({
        array: c === 0x5b,
        path: valuePath(),
        keys: undefined,
        key: '',
        index: 0,
        expectKey: true,
      });
      i += 1;
    } else if (c === 0x7d || c === 0x5d) {
      stack.pop();
      i += 1;
    } else if (c === 0x2c) {
      if (top?.array) top.index += 1;
      else if (top) top.expectKey = true;
      i += 1;
    } else if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
      let j = i + 1;
      while (j < n && /[0-9.eE+-]/.test(text.charAt(j))) j++;
      const problem = numberTextProblem(text.slice(i, j));
      if (problem) return { reason: 'imprecise_number', message: problem, path: valuePath() };
      i = j;
    } else i += 1;
  }
  return undefined;
}

/**
 * Check JSON text against the value `JSON.parse` made of it, off the hot path (the `publish` CLI's input
 * lines). The worker's decoder does the same with the key count it gets from its shape walk.
 */
export function checkJsonText(text: string, parsed: unknown): JsonTextIssue | undefined {
  const members = scanJsonText(text);
  if (members >= 0 && members === countKeys(parsed)) return undefined;
  return findJsonTextIssue(text);
}

/** Own keys of every object in a parsed JSON value; iterative, so any depth is safe. */
function countKeys(value: unknown): number {
  let count = 0;
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const item = stack.pop();
    if (typeof item !== 'object' || item === null) continue;
    if (Array.isArray(item)) {
      for (const child of item) stack.push(child);
      continue;
    }
    const keys = Object.keys(item);
    count += keys.length;
    for (const key of keys) stack.push((item as Record<string, unknown>)[key]);
  }
  return count;
}

/** Index just past the string that opens at `open` (a quote), in valid JSON. */
function stringEnd(text: string, open: number): number {
  let q = text.indexOf('"', open + 1);
  for (;;) {
    let b = q - 1;
    while (text.charCodeAt(b) === BACKSLASH) b--;
    if ((q - 1 - b) % 2 === 0) return q + 1; // an even run of backslashes escapes itself, not the quote
    q = text.indexOf('"', q + 1);
  }
}
