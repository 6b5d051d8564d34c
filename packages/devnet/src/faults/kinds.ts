// The faults the nemesis knows, in one place: the nemesis, its control endpoint and
// `enigma devnet fault` all read them here (a light module: the CLI loads it at start-up).

export type FaultKind =
  | "kill"
  | "restart"
  | "pause"
  | "resume"
  | "partition"
  | "heal"
  | "isolate"
  | "chain-outage"
  | "slow-chain"
  | "restore-chain"
  | "kill-at";

export const FAULT_KINDS: readonly FaultKind[] = [
  "kill",
  "restart",
  "pause",
  "resume",
  "partition",
  "heal",
  "isolate",
  "chain-outage",
  "slow-chain",
  "restore-chain",
  "kill-at",
];

/** What a fault request may name: a fault, or a seeded chaos schedule of them. */
export const FAULT_REQUEST_KINDS: readonly (FaultKind | "chaos")[] = [...FAULT_KINDS, "chaos"];

/** Where `killAt` strikes. */
export type KillPoint = "task-stored" | "receipt-in-flight";
export const KILL_POINTS: readonly KillPoint[] = ["task-stored", "receipt-in-flight"];
