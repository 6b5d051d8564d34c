export { Sealer } from "./sealing.js";
