// Discovery's strategy adopts the compliance suite (its rule checks are in ../selection.test.ts).
import { describe, expect, it } from "vitest";
import { selectionStrategySuite } from "../testing.js";
import { discoverySelection } from "./discovery.js";
import { getSelectionStrategy } from "./registry.js";

selectionStrategySuite(discoverySelection, { describe, it });

describe("discovery strategy", () => {
  it("is the registry's default and needs no history", () => {
    expect(getSelectionStrategy("discovery")).toBe(discoverySelection);
    expect(discoverySelection.lookback).toBe(0);
    expect(discoverySelection.groupSize).toBe(1);
  });
});
