/**
 * The secret-contract host interface (DESIGN.md section 5): imports from module `env`, every
 * parameter and result i32. Maps each function to [parameter count, result count].
 */
export const HOST_FUNCTIONS = Object.freeze({
  write_state: [4, 0],
  read_state_len: [2, 1],
  read_state: [3, 0],
  remove_from_state: [2, 0],
  eprint: [2, 0],
  fetch_function_name_length: [0, 1],
  fetch_function_name: [1, 0],
  fetch_args_length: [0, 1],
  fetch_args: [1, 0],
  write_eth_bridge: [3, 0],
  gas: [1, 0],
  ret: [2, 0],
  rand: [2, 0],
  encrypt: [4, 0],
  decrypt: [4, 0],
} as const satisfies Record<string, readonly [number, number]>);

export type HostFunction = keyof typeof HOST_FUNCTIONS;

/** What a secret-contract module must export. */
export const CONTRACT_EXPORTS = Object.freeze(["memory", "deploy", "call"] as const);
