;; An Ethereum callback and randomness, as eng-wasm contracts use them. The constructor
;; `construct(address)` keeps the address as eng-wasm keeps an H160: a JSON string "0x..." of
;; lowercase hex. `notify(uint256,uint256)` asks for one Ethereum call: `payload` is the whole
;; calldata (the selector of `pollClosed(uint256,uint256)` and the two ABI-encoded arguments as
;; given) and the address points at the 20 bytes read back from state. `flip()` returns 32 bytes
;; from `rand`.
(module
  (import "env" "fetch_function_name_length" (func $name_len (result i32)))
  (import "env" "fetch_function_name" (func $name (param i32)))
  (import "env" "fetch_args_length" (func $args_len (result i32)))
  (import "env" "fetch_args" (func $args (param i32)))
  (import "env" "ret" (func $ret (param i32 i32)))
  (import "env" "write_state" (func $write (param i32 i32 i32 i32)))
  (import "env" "read_state_len" (func $read_len (param i32 i32) (result i32)))
  (import "env" "read_state" (func $read (param i32 i32 i32)))
  (import "env" "write_eth_bridge" (func $bridge (param i32 i32 i32)))
  (import "env" "rand" (func $rand (param i32 i32)))
  (memory (export "memory") 2)
  (global (export "__heap_base") i32 (i32.const 65536))
  (global (export "__data_end") i32 (i32.const 128))
  (data (i32.const 16) "reporter")
  (data (i32.const 32) "0123456789abcdef")
  ;; keccak256("pollClosed(uint256,uint256)")[0..4]
  (data (i32.const 48) "\63\57\09\42")

  (func $hex (param $c i32) (result i32)
    (if (i32.lt_u (i32.sub (local.get $c) (i32.const 48)) (i32.const 10))
      (then (return (i32.sub (local.get $c) (i32.const 48)))))
    (if (i32.lt_u (i32.sub (local.get $c) (i32.const 97)) (i32.const 6))
      (then (return (i32.sub (local.get $c) (i32.const 87)))))
    unreachable)

  (func (export "deploy")
    (local $i i32) (local $b i32)
    (if (i32.lt_u (call $args_len) (i32.const 32)) (then unreachable))
    (call $args (i32.const 2048))
    ;; "\"0x" then 40 hex digits then "\"" at 3072
    (i32.store8 (i32.const 3072) (i32.const 34))
    (i32.store16 (i32.const 3073) (i32.const 0x7830))
    (loop $bytes
      (local.set $b (i32.load8_u offset=2060 (local.get $i)))
      (i32.store8 offset=3075 (i32.shl (local.get $i) (i32.const 1))
        (i32.load8_u offset=32 (i32.shr_u (local.get $b) (i32.const 4))))
      (i32.store8 offset=3076 (i32.shl (local.get $i) (i32.const 1))
        (i32.load8_u offset=32 (i32.and (local.get $b) (i32.const 15))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $bytes (i32.lt_u (local.get $i) (i32.const 20))))
    (i32.store8 (i32.const 3115) (i32.const 34))
    (call $write (i32.const 16) (i32.const 8) (i32.const 3072) (i32.const 44)))

  (func $notify
    (local $i i32)
    (if (i32.lt_u (call $args_len) (i32.const 64)) (then unreachable))
    ;; calldata: selector at 4096, then the two argument words
    (i32.store (i32.const 4096) (i32.load (i32.const 48)))
    (call $args (i32.const 4100))
    ;; the address: read "reporter" (44 bytes of JSON), decode the 40 hex digits to 5120
    (if (i32.ne (call $read_len (i32.const 16) (i32.const 8)) (i32.const 44)) (then unreachable))
    (call $read (i32.const 16) (i32.const 8) (i32.const 6144))
    (loop $bytes
      (i32.store8 offset=5120 (local.get $i)
        (i32.or
          (i32.shl (call $hex (i32.load8_u offset=6147 (i32.shl (local.get $i) (i32.const 1)))) (i32.const 4))
          (call $hex (i32.load8_u offset=6148 (i32.shl (local.get $i) (i32.const 1))))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $bytes (i32.lt_u (local.get $i) (i32.const 20))))
    (call $bridge (i32.const 4096) (i32.const 68) (i32.const 5120)))

  (func (export "call")
    (local $len i32) (local $w i64)
    (local.set $len (call $name_len))
    (if (i32.gt_u (local.get $len) (i32.const 8)) (then unreachable))
    (call $name (i32.const 1024))
    (local.set $w (i64.load (i32.const 1024)))
    (if (i64.eq (local.get $w) (i64.const 0x796669746f6e)) ;; "notify"
      (then (call $notify) (return)))
    (if (i64.eq (local.get $w) (i64.const 0x70696c66)) ;; "flip"
      (then (call $rand (i32.const 7168) (i32.const 32)) (call $ret (i32.const 7168) (i32.const 32)) (return)))
    unreachable)
)
