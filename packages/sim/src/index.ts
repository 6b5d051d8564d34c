// @enigma/sim: worker-selection and epoch policies over virtual epochs, with measures and a
// self-contained HTML report. The policies are @enigma/protocol's, the code the nodes run.
export { parseScenario, scenarioSchema, scenarioError, scenarioToJson } from "./scenario.js";
export type { Scenario, ScenarioInput } from "./scenario.js";
export { runSimulation, MAX_LISTED_SELECTIONS, MAX_WINDOW } from "./engine.js";
export type { EpochSeries, SimulationOptions, SimulationResult } from "./engine.js";
export { gini, totalVariation, windowProbabilities } from "./metrics.js";
export { renderReport } from "./report.js";
