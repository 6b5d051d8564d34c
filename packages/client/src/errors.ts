import {
  ENIGMA_ABI,
  ENIGMA_TOKEN_ABI,
  EnigmaError,
  ErrorCode,
  contractErrorCode,
  contractErrorName,
  errorName,
  isEnigmaError,
} from "@enigma/protocol";
import { Interface } from "ethers";

const ENIGMA = new Interface(ENIGMA_ABI);
const TOKEN = new Interface(ENIGMA_TOKEN_ABI);
// The token's errors that reach a client through Enigma's fee transfer (SafeERC20 bubbles them).
const TOKEN_ERROR_CODES: Readonly<Record<string, ErrorCode>> = {
  ERC20InsufficientBalance: ErrorCode.FeeBalanceTooLow,
  ERC20InsufficientAllowance: ErrorCode.FeeAllowanceTooLow,
};
const KNOWN_CODES = new Set<number>(Object.values(ErrorCode));

/** The first revert data (0x hex) found on an ethers error or its cause chain. */
function revertData(e: unknown, depth = 0): string | undefined {
  if (depth > 6 || typeof e !== "object" || e === null) return undefined;
  const o = e as { data?: unknown; error?: unknown; info?: unknown; cause?: unknown };
  if (typeof o.data === "string" && /^0x[0-9a-fA-F]{8}/.test(o.data)) return o.data;
  if (typeof o.data === "object") {
    const inner = revertData(o.data, depth + 1);
    if (inner !== undefined) return inner;
  }
  for (const next of [o.error, o.info, o.cause]) {
    const d = revertData(next, depth + 1);
    if (d !== undefined) return d;
  }
  return undefined;
}

function parseError(iface: Interface, data: string): ReturnType<Interface["parseError"]> {
  try {
    return iface.parseError(data);
  } catch {
    return null;
  }
}

/**
 * Turns what a chain call threw into an EnigmaError: the `Enigma` contract's custom errors
 * map to their catalog code (NonceMismatch -> 212...), and so do its reason strings
 * (`Wrong epoch for this task`, Discovery's wording, -> WrongEpoch 211); anything else is
 * `ChainError`. EnigmaErrors pass through unchanged.
 */
export function fromChainError(e: unknown, action: string): EnigmaError {
  if (isEnigmaError(e)) return e;
  const data = revertData(e);
  if (data !== undefined) {
    const parsed = parseError(ENIGMA, data) ?? parseError(TOKEN, data);
    const name = parsed === null ? undefined : contractErrorName(parsed.name, parsed.args);
    if (parsed !== null && name !== undefined) {
      const args: Record<string, unknown> = {};
      parsed.fragment.inputs.forEach((p, i) => {
        const v: unknown = parsed.args[i];
        args[p.name || String(i)] = typeof v === "bigint" ? v.toString() : v;
      });
      const code = TOKEN_ERROR_CODES[name] ?? contractErrorCode(name);
      return new EnigmaError(code, `${action} reverted: ${name}`, {
        details: { action, error: name, args },
        cause: e,
      });
    }
  }
  const message = e instanceof Error ? e.message.split("\n")[0] : String(e);
  return new EnigmaError(ErrorCode.ChainError, `${action} failed: ${message ?? ""}`, {
    details: { action, ...(data === undefined ? {} : { data }) },
    cause: e,
  });
}

/**
 * Nodes answer with catalog codes as JSON-RPC error codes (413 WorkerNotSelected, 415
 * InputsHashMismatch...): re-raise those with their own code, so callers can use
 * `isEnigmaError(e, ErrorCode.WorkerNotSelected)`. Other RPC errors stay `RpcError`.
 */
export function fromRpcError(e: unknown): unknown {
  if (!isEnigmaError(e, ErrorCode.RpcError)) return e;
  const rpcCode = e.details["rpcCode"];
  if (typeof rpcCode !== "number" || !KNOWN_CODES.has(rpcCode) || rpcCode === ErrorCode.RpcError) {
    return e;
  }
  const code = rpcCode as ErrorCode;
  return new EnigmaError(code, `${e.message} (${errorName(code)})`, {
    details: { ...e.details },
    cause: e,
  });
}
