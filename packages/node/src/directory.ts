// Which peer is which enclave: every node answers the identity protocol with its roles and its
// enclave signer, proved by the enclave's signature over its peer id, and learns the same of
// each peer it connects to. Gateways use it to reach the worker a client names; workers use it
// to reach the principal.
import {
  EnigmaError,
  ErrorCode,
  parseMessage,
  recoverAddress,
  sameAddress,
  type Hex,
} from "@enigma/protocol";
import type { NodeConfig } from "./config.js";
import { peerIdentityDigest } from "@enigma/enclave";
import { PROTOCOLS, identitySchema, type PeerIdentity } from "./messages.js";
import type { Logger } from "./observability.js";
import type { P2PNetwork } from "./p2p/network.js";

export interface DirectoryOptions {
  p2p: P2PNetwork;
  roles: NodeConfig["roles"];
  /** This node's enclave signer and signing function; absent for a gateway-only node. */
  enclave?: { signer: Hex; signPeerIdentity(peerId: string): Hex };
  log: Logger;
}

const REFRESH_MS = 2_000;

export class PeerDirectory {
  readonly #o: DirectoryOptions;
  readonly #bySigner = new Map<string, PeerIdentity>();
  readonly #byPeer = new Map<string, PeerIdentity>();
  #unsubscribe: (() => void) | undefined;
  #refresh: NodeJS.Timeout | undefined;

  constructor(options: DirectoryOptions) {
    this.#o = options;
  }

  async start(): Promise<void> {
    const { p2p } = this.#o;
    await p2p.handle(PROTOCOLS.identity, () => Promise.resolve(this.self()));
    this.#unsubscribe = p2p.onPeerConnected((peer) => {
      void this.#learn(peer).catch((e: unknown) => {
        this.#o.log.debug({ peer, err: String(e) }, "identity request failed");
      });
    });
    await Promise.allSettled(p2p.peers().map((p) => this.#learn(p)));
    // Peers that connected at the same moment may not have known each other yet: exchange
    // peer lists again every few seconds, so the network ends up fully connected.
    this.#refresh = setInterval(() => {
      void this.#refreshAll();
    }, REFRESH_MS);
    this.#refresh.unref();
  }

  stop(): Promise<void> {
    clearInterval(this.#refresh);
    this.#refresh = undefined;
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    return Promise.resolve();
  }

  /** This node's identity as peers see it. */
  self(): PeerIdentity {
    const { p2p, enclave, roles } = this.#o;
    const connected = new Set(p2p.peers());
    const known = [...this.#byPeer.values()]
      .filter((i) => connected.has(i.peerId) && i.multiaddrs.length > 0)
      .slice(0, 64)
      .map((i) => ({ peerId: i.peerId, multiaddrs: i.multiaddrs }));
    const id: PeerIdentity = {
      peerId: p2p.peerId,
      roles: [...roles],
      multiaddrs: p2p.multiaddrs.slice(0, 16),
      known,
    };
    if (enclave !== undefined) {
      id.signer = enclave.signer;
      id.signature = enclave.signPeerIdentity(p2p.peerId);
    }
    return id;
  }

  /** The peer id of the node whose enclave is `signer`; asks connected peers when unknown. */
  async peerOf(signer: string): Promise<string> {
    const key = signer.toLowerCase();
    const known = this.#bySigner.get(key);
    if (known !== undefined && this.#o.p2p.peers().includes(known.peerId)) return known.peerId;
    // Ask every connected peer again: one of them may know the node (peer exchange), which is
    // then dialled; give the new connection a moment to identify itself.
    let found: PeerIdentity | undefined;
    for (let round = 0; round < 3 && found === undefined; round++) {
      await this.#refreshAll();
      found = this.#bySigner.get(key);
      if (found === undefined) await new Promise((r) => setTimeout(r, 300));
      found ??= this.#bySigner.get(key);
    }
    if (found === undefined) {
      throw new EnigmaError(
        ErrorCode.WorkerUnknown,
        `no connected peer runs the enclave ${signer}: is that node up and connected?`,
        { details: { signer, peers: this.#o.p2p.peers().length } },
      );
    }
    return found.peerId;
  }

  async #refreshAll(): Promise<void> {
    await Promise.allSettled(this.#o.p2p.peers().map((p) => this.#learn(p)));
  }

  /** Connected peers with a role. */
  peersWithRole(role: PeerIdentity["roles"][number]): string[] {
    const connected = new Set(this.#o.p2p.peers());
    return [...this.#byPeer.values()]
      .filter((i) => i.roles.includes(role) && connected.has(i.peerId))
      .map((i) => i.peerId);
  }

  async #learn(peer: string): Promise<void> {
    const raw = await this.#o.p2p.request(peer, PROTOCOLS.identity, {}, { timeoutMs: 5_000 });
    const id = parseMessage(identitySchema, raw, "peer identity");
    if (id.peerId !== peer) {
      throw new EnigmaError(ErrorCode.InvalidMessage, "peer identity names another peer id", {
        details: { peer, claimed: id.peerId },
      });
    }
    if (id.signer !== undefined) {
      if (id.signature === undefined) {
        throw new EnigmaError(ErrorCode.InvalidMessage, "peer identity signer is not signed");
      }
      const recovered = recoverAddress(peerIdentityDigest(peer), id.signature);
      if (!sameAddress(recovered, id.signer)) {
        throw new EnigmaError(ErrorCode.SignerMismatch, "peer identity signature mismatch", {
          details: { peer, signer: id.signer, recovered },
        });
      }
      this.#bySigner.set(id.signer.toLowerCase(), id);
    }
    this.#byPeer.set(peer, id);
    // Meet the peers it knows: small networks become fully connected, so a gateway reaches
    // any worker directly. A peer met before and disconnected since (it restarted, or a
    // partition healed) is dialled again: otherwise only bootstrap links would come back.
    const connected = new Set(this.#o.p2p.peers());
    for (const k of id.known) {
      if (k.peerId === this.#o.p2p.peerId || connected.has(k.peerId)) continue;
      const addr = k.multiaddrs.find((a) => a.endsWith(`/p2p/${k.peerId}`)) ?? k.multiaddrs[0];
      if (addr === undefined) continue;
      void this.#o.p2p
        .dial(addr.includes("/p2p/") ? addr : `${addr}/p2p/${k.peerId}`)
        .catch((e: unknown) => {
          this.#o.log.debug({ peer: k.peerId, err: String(e) }, "peer exchange dial failed");
        });
    }
  }
}
