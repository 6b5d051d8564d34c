// The principal node's enclave as one object: epoch seeds drawn inside, their EIP-712
// signature for `setWorkersParams`, and the state-key authority.
import { randomBytes } from "node:crypto";
import {
  EnigmaError,
  ErrorCode,
  WORKERS_PARAMS_TYPES,
  bytesToHex,
  concatBytes,
  keccak256,
  u64be,
  type AttestationPolicy,
  type Hex,
  type RsaTrustRoot,
  type SignedAttestationReport,
  type StateKeyRequest,
  type StateKeyResponse,
} from "@enigma/protocol";
import { Eip712, openPlatform, peerIdentityDigest, type EnclaveAttester } from "./enclave-base.js";
import type { EnclaveIdentity, EnclaveMeasurement } from "./identity.js";
import { StateKeyAuthority, type StateKeyAuthorizer } from "./statekeys.js";

export interface PrincipalEnclaveOptions {
  /** Sealed identity, platform key and sealed master secret live here. */
  dir: string;
  /** Deterministic identity, state keys and epoch seeds (devnet `--seed`). */
  seed?: Uint8Array;
  attest: EnclaveAttester;
  /** Default `SIMULATED_ENCLAVE_MEASUREMENT`. */
  measurement?: EnclaveMeasurement;
  /** EIP-712 domain of the `WorkersParams` signature. */
  chainId: bigint;
  enigmaAddress: string;
  /** The account that registers this enclave on `Enigma` (named in its attestation). */
  custodian?: string;
  /** What a worker asking for state keys must be attested by, and satisfy. */
  trustRoot: RsaTrustRoot;
  policy: AttestationPolicy;
}

const UINT256_MAX = 2n ** 256n - 1n;
// Seeds drawn but not yet signed are remembered for this many epochs back.
const DRAWN_EPOCHS_KEPT = 64;

/**
 * The principal's enclave: its identity and attestation, the epoch seeds (random, or derived
 * from the devnet seed: the same seed gives the same seeds), the `WorkersParams` signature,
 * and the state keys it hands out only to attested, authorised workers.
 *
 * It signs only seeds it drew itself (`epochSeed(nonce)` before `signWorkersParams(...,
 * nonce)`): code outside the enclave cannot steer worker selection with a chosen seed.
 *
 * @example
 * const principal = await PrincipalEnclave.open({ dir, attest: (q) => ias.attest(q), chainId, enigmaAddress, trustRoot: ias.trustRoot, policy: devnetAttestationPolicy() });
 * const seed = principal.epochSeed(epoch);
 * await enigma.setWorkersParams(block, seed, principal.signWorkersParams(block, seed, epoch));
 */
export class PrincipalEnclave {
  readonly signer: Hex;
  readonly attestation: SignedAttestationReport;
  readonly #identity: EnclaveIdentity;
  readonly #authority: StateKeyAuthority;
  readonly #eip712: Eip712;
  readonly #seed: Uint8Array | undefined;
  readonly #drawn = new Map<number, Set<bigint>>();

  private constructor(
    identity: EnclaveIdentity,
    attestation: SignedAttestationReport,
    authority: StateKeyAuthority,
    eip712: Eip712,
    seed: Uint8Array | undefined,
  ) {
    this.#identity = identity;
    this.signer = identity.signer;
    this.attestation = attestation;
    this.#authority = authority;
    this.#eip712 = eip712;
    this.#seed = seed?.slice();
  }

  /**
   * Opens (or creates) the principal enclave kept in `o.dir`: identity and state-key master
   * secret unsealed (the same after a restart), attestation obtained (report_data = signer).
   */
  static async open(o: PrincipalEnclaveOptions): Promise<PrincipalEnclave> {
    const eip712 = new Eip712(o.chainId, o.enigmaAddress);
    const { identity, sealer, attestation } = await openPlatform(o);
    const authority = await StateKeyAuthority.loadOrCreate(o.dir, sealer, identity, {
      trustRoot: o.trustRoot,
      policy: o.policy,
      ...(o.seed === undefined ? {} : { seed: o.seed }),
    });
    return new PrincipalEnclave(identity, attestation, authority, eip712, o.seed);
  }

  /**
   * The seed of epoch `epochIndex` (a uint256), drawn inside the enclave: random, or when
   * seeded `keccak256(seed || "/enigma/epoch-seed" || u64be(epochIndex))`.
   */
  epochSeed(epochIndex: number): bigint {
    if (!Number.isSafeInteger(epochIndex) || epochIndex < 0) {
      throw new EnigmaError(
        ErrorCode.InvalidArgument,
        "epochIndex must be a non-negative integer",
        {
          details: { epochIndex },
        },
      );
    }
    const bytes =
      this.#seed === undefined
        ? new Uint8Array(randomBytes(32))
        : keccak256(
            concatBytes(
              this.#seed,
              new TextEncoder().encode("/enigma/epoch-seed"),
              u64be(epochIndex),
            ),
          );
    const seed = BigInt(bytesToHex(bytes));
    let set = this.#drawn.get(epochIndex);
    if (set === undefined) {
      set = new Set();
      this.#drawn.set(epochIndex, set);
    }
    set.add(seed);
    for (const k of this.#drawn.keys()) {
      if (k < epochIndex - DRAWN_EPOCHS_KEPT) this.#drawn.delete(k);
    }
    return seed;
  }

  /**
   * The EIP-712 `WorkersParams { blockNumber, seed, nonce }` signature `setWorkersParams`
   * checks (nonce = epoch index). `seed` must come from `epochSeed(nonce)` of this enclave;
   * any other is `InvalidArgument`.
   */
  signWorkersParams(blockNumber: bigint | number, seed: bigint, nonce: bigint | number): Hex {
    const block = uint256("blockNumber", blockNumber);
    const n = uint256("nonce", nonce);
    const s = uint256("seed", seed);
    const drawn = n <= BigInt(Number.MAX_SAFE_INTEGER) ? this.#drawn.get(Number(n)) : undefined;
    if (drawn?.has(s) !== true) {
      throw new EnigmaError(
        ErrorCode.InvalidArgument,
        "the principal enclave signs only a seed it drew for that epoch: call epochSeed(nonce) first",
        { details: { nonce: n.toString() } },
      );
    }
    const digest = this.#eip712.digest(WORKERS_PARAMS_TYPES, {
      blockNumber: block,
      seed: s,
      nonce: n,
    });
    return bytesToHex(this.#identity.sign(digest));
  }

  /**
   * Answers a worker's state-key request (`StateKeyAuthority.issue`): the requester must be an
   * attested enclave (trust root, policy) and `authorize(signer, contract)` must accept every
   * contract; otherwise `StateKeyRequestRefused` with the failed check in `details`.
   */
  issueStateKeys(
    request: StateKeyRequest,
    authorize: StateKeyAuthorizer,
  ): Promise<StateKeyResponse> {
    return this.#authority.issue(request, authorize);
  }

  /** The enclave's signature over the node's libp2p peer id (see `peerIdentityDigest`). */
  signPeerIdentity(peerId: string): Hex {
    return bytesToHex(this.#identity.sign(peerIdentityDigest(peerId)));
  }

  /** Public parts only. */
  toJSON(): { signer: Hex } {
    return { signer: this.signer };
  }
}

function uint256(name: string, v: bigint | number): bigint {
  let b: bigint;
  try {
    b = BigInt(v);
  } catch (cause) {
    throw new EnigmaError(ErrorCode.InvalidArgument, `${name} must be an integer`, { cause });
  }
  if (b < 0n || b > UINT256_MAX) {
    throw new EnigmaError(ErrorCode.InvalidArgument, `${name} must fit in uint256`, {
      details: { [name]: b.toString() },
    });
  }
  return b;
}
