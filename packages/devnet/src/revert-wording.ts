// Discovery's client (enigma-js@0.3.0) retries a task record that landed in a new epoch only
// when the error it gets is exactly Ganache's wording of the revert:
// `Returned error: VM Exception while processing transaction: revert Wrong epoch for this task`.
// Hardhat words the same revert `... reverted with reason string 'Wrong epoch for this task'`.
// The devnet's chain therefore reports reverts with a reason string the way Ganache (Discovery's
// devnet chain) did. Only the message changes: the revert data, which our node and client
// decode, stays as it is.
import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";

const HARDHAT_REASON = /reverted with reason string '([\s\S]*)'$/;

/** Ganache's wording of a Hardhat revert message with a reason string (others unchanged). */
export function ganacheRevertMessage(message: string): string {
  return message.replace(HARDHAT_REASON, "revert $1");
}

/** Makes the chain of `hre` report reverts with a reason string in Ganache's words. */
export function useGanacheRevertWording(hre: HardhatRuntimeEnvironment): void {
  hre.hooks.registerHandlers("network", {
    onRequest: async (context, connection, request, next) => {
      try {
        return await next(context, connection, request);
      } catch (e) {
        if (e instanceof Error) e.message = ganacheRevertMessage(e.message);
        throw e;
      }
    },
  });
}
