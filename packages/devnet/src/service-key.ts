// The simulated attestation service's RSA-2048 key, derived from the devnet seed so that the
// same seed gives the same trust root. Node's crypto has no seeded RSA key generation, but it
// has a native primality test (OpenSSL's BN_check_prime), so the generation is done here:
// candidates are drawn from a SHA-256 counter-mode stream of the seed, each a fresh 1024-bit
// odd number with its two top bits set (so that p * q has exactly 2048 bits); the first that
// is prime (and p - 1 coprime with e) is taken. Fresh draws rather than stepping from one
// start keep the primes uniformly distributed; it takes 150-300 ms on this machine, about
// what `generateKeyPairSync("rsa")` takes. The key protects nothing real: its only job is to
// be the same for the same seed.
import { checkPrimeSync, createHash, createPrivateKey } from "node:crypto";
import { SimulatedAttestationService } from "@enigma/enclave";

const E = 65_537n;
const PRIME_BYTES = 128;

/** The attestation service whose RSA key follows from `base` (the devnet's 32-byte seed). */
export function seededAttestationService(base: Uint8Array): SimulatedAttestationService {
  return SimulatedAttestationService.fromPem(seededRsaPem(base));
}

/** A PKCS#8 PEM RSA-2048 private key (e = 65537) that depends on `base` only. */
export function seededRsaPem(base: Uint8Array): string {
  const p = seededPrime(base, "p");
  let q = seededPrime(base, "q");
  for (let k = 1; q === p; k++) q = seededPrime(base, `q${k}`);
  const n = p * q;
  const lambda = lcm(p - 1n, q - 1n);
  const d = modInverse(E, lambda);
  const jwk = {
    kty: "RSA",
    n: b64url(n),
    e: b64url(E),
    d: b64url(d),
    p: b64url(p),
    q: b64url(q),
    dp: b64url(d % (p - 1n)),
    dq: b64url(d % (q - 1n)),
    qi: b64url(modInverse(q, p)),
  };
  return createPrivateKey({ key: jwk, format: "jwk" })
    .export({ format: "pem", type: "pkcs8" })
    .toString();
}

function seededPrime(base: Uint8Array, label: string): bigint {
  for (let draw = 0; ; draw++) {
    const bytes = Buffer.alloc(PRIME_BYTES);
    for (let block = 0; block * 32 < PRIME_BYTES; block++) {
      createHash("sha256")
        .update(base)
        .update(`enigma-devnet/attestation-service/${label}/${draw}/${block}`)
        .digest()
        .copy(bytes, block * 32);
    }
    bytes[0] = (bytes[0] ?? 0) | 0xc0;
    bytes[PRIME_BYTES - 1] = (bytes[PRIME_BYTES - 1] ?? 0) | 1;
    const candidate = BigInt(`0x${bytes.toString("hex")}`);
    if ((candidate - 1n) % E !== 0n && checkPrimeSync(candidate)) return candidate;
  }
}

function gcd(a: bigint, b: bigint): bigint {
  while (b !== 0n) [a, b] = [b, a % b];
  return a;
}

function lcm(a: bigint, b: bigint): bigint {
  return (a / gcd(a, b)) * b;
}

function modInverse(a: bigint, m: bigint): bigint {
  let [r0, r1] = [a % m, m];
  let [s0, s1] = [1n, 0n];
  while (r1 !== 0n) {
    const q = r0 / r1;
    [r0, r1] = [r1, r0 - q * r1];
    [s0, s1] = [s1, s0 - q * s1];
  }
  if (r0 !== 1n) throw new Error("no modular inverse");
  return ((s0 % m) + m) % m;
}

function b64url(v: bigint): string {
  let hex = v.toString(16);
  if (hex.length % 2 === 1) hex = `0${hex}`;
  return Buffer.from(hex, "hex").toString("base64url");
}
