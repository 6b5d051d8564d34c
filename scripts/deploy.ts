// The Ethereum layer's deployment lives in @enigma/devnet (the compiled devnet must carry it);
// scripts, contract tests and benchmarks use it from here.
export * from "../packages/devnet/src/deploy.js";
