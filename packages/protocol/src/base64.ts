import { EnigmaError, ErrorCode } from "./errors.js";

const STD = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/** Base64 (RFC 4648; `url`: the URL-safe alphabet without padding, as JWK uses). Pure, no Buffer. */
export function base64Encode(bytes: Uint8Array, url = false): string {
  const abc = url ? URL : STD;
  let out = "";
  for (let i = 0; i < bytes.length; i += 3) {
    const a = bytes[i] ?? 0;
    const b = bytes[i + 1] ?? 0;
    const c = bytes[i + 2] ?? 0;
    const n = (a << 16) | (b << 8) | c;
    const left = bytes.length - i;
    out += abc.charAt((n >> 18) & 63) + abc.charAt((n >> 12) & 63);
    out += left > 1 ? abc.charAt((n >> 6) & 63) : url ? "" : "=";
    out += left > 2 ? abc.charAt(n & 63) : url ? "" : "=";
  }
  return out;
}

/**
 * Strict base64 decoding: only the alphabet, correct padding (none for `url`) and zero
 * trailing bits, so each byte string has exactly one accepted encoding (a signed report
 * cannot be re-encoded into another text that decodes the same). Throws `InvalidArgument`.
 */
export function base64Decode(text: string, url = false, what = "base64"): Uint8Array {
  const abc = url ? URL : STD;
  const bad = (reason: string): never => {
    throw new EnigmaError(ErrorCode.InvalidArgument, `${what} is not canonical base64: ${reason}`, {
      details: { what, length: text.length },
    });
  };
  let body = text;
  if (!url) {
    if (text.length % 4 !== 0) bad("length is not a multiple of 4");
    body = text.endsWith("==") ? text.slice(0, -2) : text.endsWith("=") ? text.slice(0, -1) : text;
  } else if (text.length % 4 === 1) {
    bad("impossible length");
  }
  const out = new Uint8Array(Math.floor((body.length * 3) / 4));
  let acc = 0;
  let bits = 0;
  let o = 0;
  for (let i = 0; i < body.length; i++) {
    const v = abc.indexOf(body.charAt(i));
    if (v < 0) bad(`unexpected character at ${i}`);
    acc = ((acc << 6) | v) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >> bits) & 0xff;
    }
  }
  if ((acc & ((1 << bits) - 1)) !== 0) bad("non-zero trailing bits");
  return out;
}
