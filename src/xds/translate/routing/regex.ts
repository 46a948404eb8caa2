// RE2 patterns for Envoy's safe_regex. Envoy rejects a whole RouteConfiguration when one regex
// does not compile or its RE2 "program size" exceeds the runtime limit (default 100), so every
// pattern we emit is checked here first: a conservative parser accepts a subset of RE2 syntax and
// estimates an upper bound of the program size. Anything outside the subset, or too large, is
// refused and the rule that needed it is skipped. The estimate is kept honest by a test that
// compares it with the sizes the real Envoy reports.

/** ENVOY_MAX_PROGRAM_SIZE is Envoy's default `re2.max_program_size.error_level`. */
export const ENVOY_MAX_PROGRAM_SIZE = 100;

/** RE2's fixed overhead: match and fail instructions, and the implicit capture of the whole match. */
const BASE_COST = 4;
/** Upper bounds of the instructions one construct compiles to. */
const COST = {
  dot: 3,
  perlClass: 6,
  unicodeClass: 60,
  wordBoundary: 3,
  anchor: 1,
  capture: 2,
  alternation: 1,
  classBase: 2,
  classItemNonAscii: 4,
} as const;

const POSIX_CLASSES = new Set([
  'alnum',
  'alpha',
  'ascii',
  'blank',
  'cntrl',
  'digit',
  'graph',
  'lower',
  'print',
  'punct',
  'space',
  'upper',
  'word',
  'xdigit',
]);
const META = /[\\.+*?()|[\]{}^$]/g;
const MAX_REPEAT = 1000;

/** Re2Check is the outcome of checking a pattern: its estimated program size, or why it is refused. */
export type Re2Check = { readonly ok: true; readonly size: number } | { readonly ok: false; readonly reason: string };

/** escapeRe2 quotes a literal so that RE2 matches exactly that text. */
export function escapeRe2(literal: string): string {
  return literal.replace(META, (c) => `\\${c}`);
}

/**
 * searchRegex turns a pattern that Polaris applies as a search (it matches if it matches
 * anywhere, as Go's regexp MatchString) into the whole-value match Envoy performs.
 */
export function searchRegex(pattern: string): string {
  return `(?s:.*)(?:${pattern})(?s:.*)`;
}

class Refused extends Error {}

/** Parser walks a pattern once, by code point, summing an upper bound of RE2 instructions. */
class Parser {
  private i = 0;
  private foldCase = false;
  constructor(private readonly chars: readonly string[]) {}

  parse(): number {
    const cost = this.alternation();
    if (this.i < this.chars.length) throw new Refused(`unbalanced ')' at offset ${this.i}`);
    // Case folding may turn one literal into several byte sequences (e.g. k, K and the Kelvin sign).
    return this.foldCase ? cost * 3 : cost;
  }

  private peek(offset = 0): string | undefined {
    return this.chars[this.i + offset];
  }

  private alternation(): number {
    let cost = this.concatenation();
    while (this.peek() === '|') {
      this.i++;
      cost += COST.alternation + this.concatenation();
    }
    return cost;
  }

  private concatenation(): number {
    let cost = 0;
    for (;;) {
      const c = this.peek();
      if (c === undefined || c === '|' || c === ')') return cost;
      const atom = this.atom();
      cost += atom.repeatable ? this.quantified(atom.cost) : atom.cost;
    }
  }

  private quantified(cost: number): number {
    const c = this.peek();
    let result = cost;
    if (c === '*' || c === '+' || c === '?') {
      this.i++;
      result = cost + 1;
    } else if (c === '{') {
      const rep = this.repeat();
      if (!rep) return cost;
      const [min, max] = rep;
      result = max === undefined ? min * cost + cost + 1 : min * cost + (max - min) * (cost + 1);
    } else {
      return cost;
    }
    if (this.peek() === '?') this.i++; // non-greedy
    const next = this.peek();
    if (next === '*' || next === '+' || next === '?' || (next === '{' && this.looksLikeRepeat()))
      throw new Refused('repeated repetition operator');
    return result;
  }

  private looksLikeRepeat(): boolean {
    const save = this.i;
    try {
      return this.repeat() !== undefined;
    } finally {
      this.i = save;
    }
  }

  /**
   * repeat reads `{n}`, `{n,}` or `{n,m}`; anything else is refused (RE2 would read it as text, but we keep the grammar
   * small).
   */
  private repeat(): [number, number | undefined] | undefined {
    const rest = this.chars.slice(this.i).join('');
    const m = /^\{(\d{1,4})(,(\d{0,4}))?\}/.exec(rest);
    if (!m) throw new Refused(`'{' must start a repetition like {2} or {1,3} (escape it as \\{)`);
    const min = Number(m[1]);
    const max = m[2] === undefined ? min : m[3] === '' ? undefined : Number(m[3]);
    if (min > MAX_REPEAT || (max !== undefined && (max > MAX_REPEAT || max < min)))
      throw new Refused(`bad repetition ${m[0]}`);
    this.i += [...m[0]].length;
    return [min, max];
  }

  private atom(): { cost: number; repeatable: boolean } {
    const c = this.chars[this.i++]!;
    switch (c) {
      case '(':
        return this.group();
      case '[':
        return { cost: this.charClass(), repeatable: true };
      case '.':
        return { cost: COST.dot, repeatable: true };
      case '^':
      case '$':
        return { cost: COST.anchor, repeatable: false };
      case '\\':
        return this.escape();
      case '*':
      case '+':
      case '?':
        throw new Refused(`missing argument to repetition operator '${c}'`);
      case '{':
        throw new Refused(`'{' must follow something to repeat (escape it as \\{)`);
      default:
        return { cost: Buffer.byteLength(c), repeatable: true };
    }
  }

  private group(): { cost: number; repeatable: boolean } {
    let capture = true;
    if (this.peek() === '?') {
      this.i++;
      const rest = this.chars.slice(this.i).join('');
      const named = /^P<[A-Za-z_][A-Za-z0-9_]*>/.exec(rest);
      const flags = /^(-?[imsU]+|[imsU]+-[imsU]*)?([:)])/.exec(rest);
      if (named) {
        this.i += named[0].length;
      } else if (flags && (flags[1] !== undefined || flags[2] === ':')) {
        this.i += flags[0].length;
        if (flags[1]?.split('-')[0]?.includes('i')) this.foldCase = true;
        if (flags[2] === ')') return { cost: 0, repeatable: false };
        capture = false;
      } else {
        throw new Refused(
          `unsupported group syntax '(?${rest.slice(0, 3)}' (RE2 has no lookaround, atomic groups or backreferences)`,
        );
      }
    }
    const inner = this.alternation();
    if (this.chars[this.i++] !== ')') throw new Refused("missing ')'");
    return { cost: inner + (capture ? COST.capture : 0), repeatable: true };
  }

  private escape(): { cost: number; repeatable: boolean } {
    const c = this.chars[this.i++];
    if (c === undefined) throw new Refused('trailing backslash');
    if ('dDwWsS'.includes(c)) return { cost: COST.perlClass, repeatable: true };
    if (c === 'b' || c === 'B') return { cost: COST.wordBoundary, repeatable: false };
    if (c === 'A' || c === 'z') return { cost: COST.anchor, repeatable: false };
    if (c === 'p' || c === 'P') {
      this.unicodeClassName();
      return { cost: COST.unicodeClass, repeatable: true };
    }
    if ('ntrfva'.includes(c)) return { cost: 1, repeatable: true };
    if (c === 'x') return { cost: Buffer.byteLength(this.hexChar()), repeatable: true };
    if (/[0-9A-Za-z]/.test(c)) throw new Refused(`unsupported escape \\${c}`);
    return { cost: Buffer.byteLength(c), repeatable: true };
  }

  private unicodeClassName(): void {
    if (this.peek() === '{') {
      const rest = this.chars.slice(this.i).join('');
      const m = /^\{\^?[A-Za-z_]+\}/.exec(rest);
      if (!m) throw new Refused('bad Unicode class name');
      this.i += m[0].length;
      return;
    }
    const name = this.chars[this.i++];
    if (name === undefined || !/[A-Za-z]/.test(name)) throw new Refused('bad Unicode class name');
  }

  private hexChar(): string {
    const rest = this.chars.slice(this.i).join('');
    const m = /^(?:\{([0-9A-Fa-f]{1,6})\}|([0-9A-Fa-f]{2}))/.exec(rest);
    if (!m) throw new Refused('bad \\x escape');
    const code = parseInt(m[1] ?? m[2]!, 16);
    if (code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) throw new Refused('bad \\x escape');
    this.i += m[0].length;
    return String.fromCodePoint(code);
  }

  /** charClass reads the body of `[...]` after the bracket. */
  private charClass(): number {
    let cost = COST.classBase;
    if (this.peek() === '^') this.i++;
    let first = true;
    for (;;) {
      const c = this.chars[this.i++];
      if (c === undefined) throw new Refused("missing ']'");
      if (c === ']' && !first) return cost;
      first = false;
      if (c === '[' && this.peek() === ':') {
        const rest = this.chars.slice(this.i).join('');
        const m = /^:\^?([a-z]+):\]/.exec(rest);
        if (!m || !POSIX_CLASSES.has(m[1]!)) throw new Refused('bad POSIX class');
        this.i += m[0].length;
        cost += COST.perlClass;
        continue;
      }
      let lo: string;
      if (c === '\\') {
        const e = this.chars[this.i++];
        if (e === undefined) throw new Refused('trailing backslash');
        if ('dDwWsS'.includes(e)) {
          cost += COST.perlClass;
          continue;
        }
        if (e === 'p' || e === 'P') {
          this.unicodeClassName();
          cost += COST.unicodeClass;
          continue;
        }
        if (e === 'x') lo = this.hexChar();
        else if ('ntrfva'.includes(e)) lo = e;
        else if (/[0-9A-Za-z]/.test(e)) throw new Refused(`unsupported escape \\${e} in class`);
        else lo = e;
      } else {
        lo = c;
      }
      if (this.peek() === '-' && this.peek(1) !== ']' && this.peek(1) !== undefined) {
        this.i++;
        let hi = this.chars[this.i++]!;
        if (hi === '\\') {
          const e = this.chars[this.i++];
          if (e === 'x') hi = this.hexChar();
          else if (e === undefined || /[0-9A-Za-z]/.test(e)) throw new Refused('bad range end in class');
          else hi = e;
        } else if (hi === '[') {
          throw new Refused('bad range end in class');
        }
        if (hi.codePointAt(0)! < lo.codePointAt(0)!) throw new Refused(`bad range ${lo}-${hi}`);
        cost += lo.codePointAt(0)! > 0x7f || hi.codePointAt(0)! > 0x7f ? COST.classItemNonAscii * 4 : 1;
        continue;
      }
      cost += lo.codePointAt(0)! > 0x7f ? COST.classItemNonAscii : 1;
    }
  }
}

/**
 * checkRe2 parses a pattern as RE2 and estimates an upper bound of its program size. Patterns
 * outside the subset polaris-xds can verify (lookaround, backreferences, `\Q…\E`, stray braces…)
 * are refused with a reason, as are empty patterns.
 */
export function checkRe2(pattern: string): Re2Check {
  if (pattern === '') return { ok: false, reason: 'empty regex' };
  try {
    return { ok: true, size: BASE_COST + new Parser([...pattern]).parse() };
  } catch (err) {
    if (err instanceof Refused) return { ok: false, reason: err.message };
    throw err;
  }
}

/**
 * envoyRegex checks a regex Envoy will compile: valid in our RE2 subset and within Envoy's
 * default program size. It returns the regex unchanged, or a reason to refuse it.
 */
export function envoyRegex(regex: string): { ok: true; regex: string } | { ok: false; reason: string } {
  const check = checkRe2(regex);
  if (!check.ok) return { ok: false, reason: `regex ${JSON.stringify(regex)} refused: ${check.reason}` };
  if (check.size > ENVOY_MAX_PROGRAM_SIZE) {
    return {
      ok: false,
      reason:
        `regex ${JSON.stringify(regex)} may exceed Envoy's RE2 program size limit (${check.size} > ` +
        `${ENVOY_MAX_PROGRAM_SIZE})`,
    };
  }
  return { ok: true, regex };
}
