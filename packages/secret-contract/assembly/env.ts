// The host interface of an Enigma secret contract (DESIGN.md section 5): module `env`, all
// parameters i32. These are the only imports a secret contract may have.

@external("env", "write_state")
export declare function write_state(key: usize, key_len: u32, value: usize, value_len: u32): void;
@external("env", "read_state_len")
export declare function read_state_len(key: usize, key_len: u32): u32;
@external("env", "read_state")
export declare function read_state(key: usize, key_len: u32, out: usize): void;
@external("env", "remove_from_state")
export declare function remove_from_state(key: usize, key_len: u32): void;
@external("env", "eprint")
export declare function eprint(ptr: usize, len: u32): void;
@external("env", "fetch_function_name_length")
export declare function fetch_function_name_length(): u32;
@external("env", "fetch_function_name")
export declare function fetch_function_name(out: usize): void;
@external("env", "fetch_args_length")
export declare function fetch_args_length(): u32;
@external("env", "fetch_args")
export declare function fetch_args(out: usize): void;
@external("env", "write_eth_bridge")
export declare function write_eth_bridge(payload: usize, payload_len: u32, address: usize): void;
@external("env", "gas")
export declare function gas(amount: u32): void;
@external("env", "ret")
export declare function ret(ptr: usize, len: u32): void;
@external("env", "rand")
export declare function rand(out: usize, len: u32): void;
@external("env", "encrypt")
export declare function encrypt(msg: usize, msg_len: u32, key: usize, out: usize): void;
@external("env", "decrypt")
export declare function decrypt(cipheriv: usize, len: u32, key: usize, out: usize): void;
