// Faults on demand for a devnet (issue 16): the nemesis, the chain proxy, namespace hosts, the
// seeded chaos schedule and the control endpoint `enigma devnet fault` talks to.
export { ChainProxy } from "./chain-proxy.js";
export type { ChainMode, ChainProxyOptions } from "./chain-proxy.js";
export { FAULT_KINDS, KILL_POINTS, Nemesis } from "./nemesis.js";
export { adminCall } from "@enigma/node/admin-client";
export type { FaultEvent, FaultKind, FaultableNode, KillPoint, NemesisOptions } from "./nemesis.js";
export { NetnsNetwork, sweepStale } from "./netns.js";
export type { NetnsHost, NetnsOptions } from "./netns.js";
export { CHAOS_KINDS, chaosSchedule, runChaos, seededRandom } from "./chaos.js";
export type {
  ChaosKind,
  ChaosReport,
  ChaosRunOptions,
  ChaosScheduleOptions,
  ChaosStep,
} from "./chaos.js";
export {
  FaultControlServer,
  applyFault,
  checkFaultRequest,
  parseGroups,
  sendFault,
} from "./control.js";
export type { FaultAnswer, FaultRequest } from "./control.js";
