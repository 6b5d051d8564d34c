// The one registry of named policies. A new strategy or epoch policy is one entry here.
import { EnigmaError, ErrorCode } from "../errors.js";
import { discoverySelection } from "./discovery.js";
import { cappedEpochs, discoveryEpochs } from "./epochs.js";
import { groupSelection } from "./group.js";
import { rotationSelection } from "./rotation.js";
import type { EpochPolicy, WorkerSelectionStrategy } from "./types.js";

/** A named policy in the registry; `create` builds it from its parameter (or the default). */
export interface PolicyDescriptor<T> {
  /** The name without parameter (`"group"`). */
  readonly name: string;
  /** One line for `--help` and the docs. */
  readonly summary: string;
  /** The numeric parameter written `name:N`, when the policy takes one. */
  readonly parameter?: {
    readonly name: string;
    readonly default: number;
    readonly min: number;
    readonly max: number;
  };
  /**
   * The Solidity twin (`contracts/selection/<name>.sol`, implementing `IWorkerSelection`) of a
   * selection strategy; for an epoch policy, `undefined` unless the contract implements it.
   */
  readonly solidity?: string;
  create(parameter: number | undefined): T;
}

/** Selection strategies, by name. The first is the default. */
export const SELECTION_STRATEGIES: readonly PolicyDescriptor<WorkerSelectionStrategy>[] = [
  {
    name: "discovery",
    summary: "Discovery's rule: the stake-weighted draw 0, one worker per contract (default)",
    solidity: "DiscoverySelection",
    create: () => discoverySelection,
  },
  {
    name: "group",
    summary: "k workers per contract, drawn as Discovery's workerGroupSize did; any member commits",
    parameter: { name: "k", default: 3, min: 1, max: 64 },
    solidity: "GroupSelection",
    create: (k = 3) => groupSelection(k),
  },
  {
    name: "rotation",
    summary: "term limits: a worker keeps a contract at most N epochs in a row",
    parameter: { name: "maxEpochs", default: 4, min: 2, max: 1_000_000 },
    solidity: "RotationSelection",
    create: (n = 4) => rotationSelection(n),
  },
];

/** Epoch policies, by name. The first is the default. */
export const EPOCH_POLICIES: readonly PolicyDescriptor<EpochPolicy>[] = [
  {
    name: "discovery",
    summary:
      "Discovery's epochs: epochSize blocks, every staked worker at its whole balance (default)",
    solidity: "Enigma",
    create: () => discoveryEpochs,
  },
  {
    name: "capped",
    summary: "each worker counted with at most P% of the eligible stake (simulation only for now)",
    parameter: { name: "percent", default: 10, min: 1, max: 100 },
    create: (p = 10) => cappedEpochs(p),
  },
];

export const DEFAULT_SELECTION = "discovery";
export const DEFAULT_EPOCH_POLICY = "discovery";

const SPEC = /^([a-z][a-z0-9-]*)(?::(\d{1,9}))?$/;

function lookup<T>(
  kind: string,
  registry: readonly PolicyDescriptor<T>[],
  spec: string,
): { descriptor: PolicyDescriptor<T>; parameter: number | undefined } {
  const known = registry.map((d) => (d.parameter === undefined ? d.name : `${d.name}[:N]`));
  const m = SPEC.exec(spec.trim());
  const descriptor = m === null ? undefined : registry.find((d) => d.name === m[1]);
  if (m === null || descriptor === undefined) {
    throw new EnigmaError(
      ErrorCode.UnknownPolicy,
      `unknown ${kind} "${spec}" (known: ${known.join(", ")})`,
      { details: { kind, name: spec, known } },
    );
  }
  const raw = m[2];
  if (raw !== undefined && descriptor.parameter === undefined) {
    throw new EnigmaError(
      ErrorCode.UnknownPolicy,
      `${kind} "${descriptor.name}" takes no parameter`,
      {
        details: { kind, name: spec },
      },
    );
  }
  return { descriptor, parameter: raw === undefined ? undefined : Number(raw) };
}

const strategies = new Map<string, WorkerSelectionStrategy>();
const epochPolicies = new Map<string, EpochPolicy>();

/**
 * The selection strategy named `spec` (`"discovery"`, `"group:5"`, `"rotation"` for its default
 * parameter). Unknown names and bad parameters are `UnknownPolicy` (120) errors that list the
 * known names.
 *
 * @example
 * const strategy = getSelectionStrategy("group:3"); // strategy.name === "group:3"
 */
export function getSelectionStrategy(spec: string): WorkerSelectionStrategy {
  const cached = strategies.get(spec);
  if (cached !== undefined) return cached;
  const { descriptor, parameter } = lookup("selection strategy", SELECTION_STRATEGIES, spec);
  const strategy = descriptor.create(parameter);
  strategies.set(spec, strategy);
  return strategy;
}

/** What deploys a selection strategy's Solidity twin beside `Enigma`. */
export interface SelectionContract {
  /** The strategy, as nodes and clients select with it (`name` is what the contract's `name()` says). */
  readonly strategy: WorkerSelectionStrategy;
  /** The contract's name: its source is `contracts/selection/<contract>.sol`. */
  readonly contract: string;
  /** Constructor arguments: the parameter (or its default) for a strategy that takes one. */
  readonly args: readonly number[];
}

/**
 * The Solidity twin of the selection strategy named `spec` and its constructor arguments, for
 * `deployEnigma` (the strategy is fixed when `Enigma` is deployed). `UnknownPolicy` for an unknown
 * name or a bad parameter, `InvalidConfig` for a strategy registered without a Solidity twin.
 *
 * @example
 * selectionContract("group:3"); // { contract: "GroupSelection", args: [3], strategy }
 */
export function selectionContract(spec: string): SelectionContract {
  const { descriptor, parameter } = lookup("selection strategy", SELECTION_STRATEGIES, spec);
  if (descriptor.solidity === undefined) {
    throw new EnigmaError(
      ErrorCode.InvalidConfig,
      `selection strategy "${descriptor.name}" has no Solidity twin: it cannot run on a chain`,
      { details: { name: spec } },
    );
  }
  const p = descriptor.parameter;
  return Object.freeze({
    strategy: getSelectionStrategy(spec),
    contract: descriptor.solidity,
    args: p === undefined ? [] : [parameter ?? p.default],
  });
}

/** The epoch policy named `spec` (`"discovery"`, `"capped:20"`); see `getSelectionStrategy`. */
export function getEpochPolicy(spec: string): EpochPolicy {
  const cached = epochPolicies.get(spec);
  if (cached !== undefined) return cached;
  const { descriptor, parameter } = lookup("epoch policy", EPOCH_POLICIES, spec);
  const policy = descriptor.create(parameter);
  epochPolicies.set(spec, policy);
  return policy;
}

/** Every registered selection strategy (name, summary, parameter, Solidity twin). */
export function listSelectionStrategies(): readonly PolicyDescriptor<WorkerSelectionStrategy>[] {
  return SELECTION_STRATEGIES;
}

/** Every registered epoch policy. */
export function listEpochPolicies(): readonly PolicyDescriptor<EpochPolicy>[] {
  return EPOCH_POLICIES;
}
