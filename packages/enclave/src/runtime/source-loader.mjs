// Source mode only (the package run from its TypeScript sources, as under the test runner): an
// execution thread registers this resolve hook so that it can load the same sources.
import { register } from "node:module";

register(new URL("./source-hooks.mjs", import.meta.url));
