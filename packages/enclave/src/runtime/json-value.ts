// State values are JSON, as Discovery's runtime kept them: `write_state` parses the value into a
// serde_json `Value` (serde_json 1.0.39, enigma-runtime-t/Cargo.toml) and `read_state` hands back
// `serde_json::to_vec` of that value. So a value read back is the canonical serialisation of what
// was written, not its bytes: objects with their keys sorted (serde_json's default map is a
// BTreeMap), no whitespace, integers that fit u64/i64 kept exact, other numbers as f64 printed
// the way serde_json prints them (ryu's shortest form: `1.0`, `1e300`, `1.5e-7`). This module
// reproduces that parser and printer, so the bytes (and the gas that depends on their length)
// are the ones Discovery's enclave produced.

/** Why a value is not JSON (the contract's task fails with StateValueNotJson). */
export class JsonValueError extends Error {}

/** serde_json's recursion limit: deeper nesting is an error, not a stack overflow. */
const MAX_DEPTH = 128;
const U64_MAX = (1n << 64n) - 1n;

// serde_json 1.0.39's POW10 table: 1e0..1e308, the literals Rust and JavaScript both parse exactly.
const POW10: number[] = Array.from({ length: 309 }, (_, i) => Number(`1e${String(i)}`));

const utf8 = new TextDecoder("utf-8", { fatal: true });
/** What ends a run of plain string characters: a quote, a backslash or a control character. */
// eslint-disable-next-line no-control-regex -- control characters are exactly what JSON strings may not hold raw
const SPECIAL = /["\\\x00-\x1f]/g;

/**
 * Parses `bytes` as serde_json would and returns the canonical serialisation (what `read_state`
 * returns for it). Throws JsonValueError for anything serde_json refuses: invalid UTF-8, a
 * syntax error, trailing characters, a lone surrogate escape, nesting deeper than 128, or a
 * number too large for an f64.
 */
export function canonicalJson(bytes: Uint8Array): string {
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    throw new JsonValueError("the value is not UTF-8");
  }
  const p = new Parser(text);
  p.ws();
  const out = p.value(0);
  p.ws();
  if (p.pos < text.length) p.fail("trailing characters");
  return out;
}

/** The canonical bytes of a JSON value given as bytes (see canonicalJson). */
export function canonicalJsonBytes(bytes: Uint8Array): Uint8Array {
  return new TextEncoder().encode(canonicalJson(bytes));
}

class Parser {
  readonly s: string;
  pos = 0;
  constructor(s: string) {
    this.s = s;
  }

  fail(what: string): never {
    throw new JsonValueError(`${what} at character ${String(this.pos)}`);
  }

  ws(): void {
    for (;;) {
      const c = this.s.charCodeAt(this.pos);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) this.pos++;
      else return;
    }
  }

  value(depth: number): string {
    const c = this.s[this.pos];
    switch (c) {
      case "{":
        return this.object(depth + 1);
      case "[":
        return this.array(depth + 1);
      case '"':
        return quote(this.string());
      case "t":
        return this.word("true");
      case "f":
        return this.word("false");
      case "n":
        return this.word("null");
      case undefined:
        return this.fail("EOF while parsing a value");
      default:
        if (c === "-" || (c >= "0" && c <= "9")) return this.number();
        return this.fail("expected value");
    }
  }

  word(w: string): string {
    if (this.s.startsWith(w, this.pos)) {
      this.pos += w.length;
      return w;
    }
    return this.fail("expected value");
  }

  object(depth: number): string {
    if (depth > MAX_DEPTH) this.fail("recursion limit exceeded");
    this.pos++; // {
    const entries = new Map<string, string>();
    this.ws();
    if (this.s[this.pos] === "}") {
      this.pos++;
      return "{}";
    }
    for (;;) {
      this.ws();
      if (this.s[this.pos] !== '"') this.fail("key must be a string");
      const key = this.string();
      this.ws();
      if (this.s[this.pos] !== ":") this.fail("expected `:`");
      this.pos++;
      this.ws();
      // A repeated key keeps the last value (BTreeMap insert).
      entries.set(key, this.value(depth));
      this.ws();
      const c = this.s[this.pos];
      this.pos++;
      if (c === "}") break;
      if (c !== ",") this.fail("expected `,` or `}`");
    }
    // Rust's String order is the order of UTF-8 bytes: code point order, which differs from
    // JavaScript's UTF-16 order only between supplementary characters and U+E000-U+FFFF.
    const keys = [...entries.keys()].sort(compareCodePoints);
    return `{${keys.map((k) => `${quote(k)}:${entries.get(k) ?? "null"}`).join(",")}}`;
  }

  array(depth: number): string {
    if (depth > MAX_DEPTH) this.fail("recursion limit exceeded");
    this.pos++; // [
    const items: string[] = [];
    this.ws();
    if (this.s[this.pos] === "]") {
      this.pos++;
      return "[]";
    }
    for (;;) {
      this.ws();
      items.push(this.value(depth));
      this.ws();
      const c = this.s[this.pos];
      this.pos++;
      if (c === "]") break;
      if (c !== ",") this.fail("expected `,` or `]`");
    }
    return `[${items.join(",")}]`;
  }

  /** A string token (the cursor on its `"`); returns its value. */
  string(): string {
    this.pos++;
    let out = "";
    let start = this.pos;
    for (;;) {
      // Jump to the next character that needs a look (native speed on long strings).
      SPECIAL.lastIndex = this.pos;
      const found = SPECIAL.exec(this.s);
      this.pos = found === null ? this.s.length : found.index;
      const c = this.s.charCodeAt(this.pos);
      if (Number.isNaN(c)) this.fail("EOF while parsing a string");
      if (c === 0x22) {
        out += this.s.slice(start, this.pos);
        this.pos++;
        return out;
      }
      if (c < 0x20) this.fail("control character found while parsing a string");
      if (c !== 0x5c) {
        this.pos++;
        continue;
      }
      out += this.s.slice(start, this.pos);
      this.pos++;
      const e = this.s[this.pos];
      this.pos++;
      switch (e) {
        case '"':
          out += '"';
          break;
        case "\\":
          out += "\\";
          break;
        case "/":
          out += "/";
          break;
        case "b":
          out += "\b";
          break;
        case "f":
          out += "\f";
          break;
        case "n":
          out += "\n";
          break;
        case "r":
          out += "\r";
          break;
        case "t":
          out += "\t";
          break;
        case "u": {
          const hi = this.hex4();
          if (hi >= 0xdc00 && hi <= 0xdfff) this.fail("lone trailing surrogate in hex escape");
          if (hi >= 0xd800 && hi <= 0xdbff) {
            if (this.s[this.pos] !== "\\" || this.s[this.pos + 1] !== "u") {
              this.fail("unexpected end of hex escape");
            }
            this.pos += 2;
            const lo = this.hex4();
            if (lo < 0xdc00 || lo > 0xdfff) this.fail("lone leading surrogate in hex escape");
            out += String.fromCharCode(hi, lo);
          } else {
            out += String.fromCharCode(hi);
          }
          break;
        }
        default:
          this.fail("invalid escape");
      }
      start = this.pos;
    }
  }

  hex4(): number {
    const h = this.s.slice(this.pos, this.pos + 4);
    if (!/^[0-9a-fA-F]{4}$/.test(h)) this.fail("invalid escape");
    this.pos += 4;
    return parseInt(h, 16);
  }

  /** A number, as serde_json 1.0.39 parses (u64, i64, else f64) and prints it. */
  number(): string {
    let positive = true;
    if (this.s[this.pos] === "-") {
      positive = false;
      this.pos++;
    }
    const first = this.s[this.pos];
    if (first === undefined || first < "0" || first > "9") this.fail("invalid number");
    this.pos++;
    let significand = BigInt(first.charCodeAt(0) - 48);
    if (first === "0") {
      const n = this.s[this.pos];
      if (n !== undefined && n >= "0" && n <= "9") this.fail("invalid number");
    } else {
      for (;;) {
        const c = this.s[this.pos];
        if (c === undefined || c < "0" || c > "9") break;
        const digit = BigInt(c.charCodeAt(0) - 48);
        this.pos++;
        if (significand * 10n + digit > U64_MAX) {
          // Too big for a u64: the rest is read as an f64 (parse_long_integer).
          return formatF64(this.longInteger(positive, significand, 1));
        }
        significand = significand * 10n + digit;
      }
    }
    const c = this.s[this.pos];
    if (c === ".") return formatF64(this.decimal(positive, significand, 0));
    if (c === "e" || c === "E") return formatF64(this.exponent(positive, significand, 0));
    if (positive) return significand.toString();
    // A negative integer stays an i64 when it fits (-2^63 included); -0 is the integer 0.
    if (significand === 0n) return "0";
    if (significand <= 1n << 63n) return (-significand).toString();
    return formatF64(-Number(significand));
  }

  longInteger(positive: boolean, significand: bigint, exponent: number): number {
    for (;;) {
      const c = this.s[this.pos];
      if (c !== undefined && c >= "0" && c <= "9") {
        this.pos++;
        exponent++;
      } else if (c === ".") {
        return this.decimal(positive, significand, exponent);
      } else if (c === "e" || c === "E") {
        return this.exponent(positive, significand, exponent);
      } else {
        return this.fromParts(positive, significand, exponent);
      }
    }
  }

  decimal(positive: boolean, significand: bigint, exponent: number): number {
    this.pos++; // .
    let digits = 0;
    for (;;) {
      const c = this.s[this.pos];
      if (c === undefined || c < "0" || c > "9") break;
      this.pos++;
      digits++;
      const digit = BigInt(c.charCodeAt(0) - 48);
      if (significand * 10n + digit > U64_MAX) {
        // The next digit would overflow the significand: the rest are read and ignored.
        for (;;) {
          const d = this.s[this.pos];
          if (d === undefined || d < "0" || d > "9") break;
          this.pos++;
        }
        break;
      }
      significand = significand * 10n + digit;
      exponent--;
    }
    if (digits === 0) this.fail("invalid number");
    const c = this.s[this.pos];
    if (c === "e" || c === "E") return this.exponent(positive, significand, exponent);
    return this.fromParts(positive, significand, exponent);
  }

  exponent(positive: boolean, significand: bigint, starting: number): number {
    this.pos++; // e
    let positiveExp = true;
    if (this.s[this.pos] === "+") this.pos++;
    else if (this.s[this.pos] === "-") {
      positiveExp = false;
      this.pos++;
    }
    const first = this.s[this.pos];
    if (first === undefined || first < "0" || first > "9") this.fail("invalid number");
    this.pos++;
    let exp = first.charCodeAt(0) - 48;
    for (;;) {
      const c = this.s[this.pos];
      if (c === undefined || c < "0" || c > "9") break;
      this.pos++;
      const digit = c.charCodeAt(0) - 48;
      if (exp * 10 + digit > 0x7fffffff) {
        // An exponent beyond i32: infinity is an error, zero stays zero.
        if (significand !== 0n && positiveExp) this.fail("number out of range");
        for (;;) {
          const d = this.s[this.pos];
          if (d === undefined || d < "0" || d > "9") break;
          this.pos++;
        }
        return positive ? 0 : -0;
      }
      exp = exp * 10 + digit;
    }
    const final = positiveExp ? starting + exp : starting - exp;
    return this.fromParts(positive, significand, final);
  }

  /** serde_json 1.0.39's f64_from_parts: significand as f64, scaled by powers of ten. */
  fromParts(positive: boolean, significand: bigint, exponent: number): number {
    let f = Number(significand);
    for (;;) {
      const pow = POW10[Math.abs(exponent)];
      if (pow !== undefined) {
        if (exponent >= 0) {
          f *= pow;
          if (!Number.isFinite(f)) this.fail("number out of range");
        } else {
          f /= pow;
        }
        break;
      }
      if (f === 0) break;
      if (exponent >= 0) this.fail("number out of range");
      f /= 1e308;
      exponent += 308;
    }
    return positive ? f : -f;
  }
}

function compareCodePoints(a: string, b: string): number {
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const x = a.codePointAt(i) ?? 0;
    const y = b.codePointAt(j) ?? 0;
    if (x !== y) return x - y;
    i += x > 0xffff ? 2 : 1;
    j += y > 0xffff ? 2 : 1;
  }
  return a.length - i - (b.length - j);
}

/** A JSON string as serde_json writes it: `"` `\` and control characters escaped, the rest raw. */
function quote(s: string): string {
  let out = '"';
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x20 && c !== 0x22 && c !== 0x5c) continue;
    out += s.slice(start, i);
    start = i + 1;
    switch (c) {
      case 0x22:
        out += '\\"';
        break;
      case 0x5c:
        out += "\\\\";
        break;
      case 0x08:
        out += "\\b";
        break;
      case 0x0c:
        out += "\\f";
        break;
      case 0x0a:
        out += "\\n";
        break;
      case 0x0d:
        out += "\\r";
        break;
      case 0x09:
        out += "\\t";
        break;
      default:
        out += `\\u00${c.toString(16).padStart(2, "0")}`;
    }
  }
  return `${out + s.slice(start)}"`;
}

/**
 * An f64 as ryu (serde_json's float printer) writes it: the shortest digits that read back to
 * the same value, as a plain decimal with at least one fractional digit when the decimal
 * exponent allows (`12340000000.0`, `12.34`, `0.001234`), otherwise in scientific form
 * (`1e30`, `1.234e33`, `1e-7`).
 */
export function formatF64(v: number): string {
  if (v === 0) return Object.is(v, -0) ? "-0.0" : "0.0";
  const sign = v < 0 ? "-" : "";
  // toExponential() gives the shortest round-trip digits, as ryu does.
  const [mantissa = "", exp = "0"] = Math.abs(v).toExponential().split("e");
  const digits = mantissa.replace(".", "");
  const length = digits.length;
  const kk = Number(exp) + 1; // 10^(kk-1) <= v < 10^kk
  const k = kk - length;
  if (k >= 0 && kk <= 16) return `${sign}${digits}${"0".repeat(k)}.0`;
  if (kk > 0 && kk <= 16) return `${sign}${digits.slice(0, kk)}.${digits.slice(kk)}`;
  if (kk > -5 && kk <= 0) return `${sign}0.${"0".repeat(-kk)}${digits}`;
  const e = `e${String(kk - 1)}`;
  if (length === 1) return `${sign}${digits}${e}`;
  return `${sign}${digits[0] ?? ""}.${digits.slice(1)}${e}`;
}
