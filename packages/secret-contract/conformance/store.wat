;; State the way eng-wasm keeps it: every value is serde_json text. The constructor
;; `construct(uint256)` writes its argument under "value" as a JSON number; `get()` reads it
;; back (a missing key reads as `null`, returned as 0); `set(uint256)` overwrites it (a longer
;; number grows the value, a shorter one shrinks it: the runtime charges the growth and refunds
;; the shrink); `remove()` deletes it; `raw()` returns the JSON text the runtime hands back;
;; `doc()` writes an object with spaces and unsorted keys, which the runtime keeps canonical.
(module
  (import "env" "fetch_function_name_length" (func $name_len (result i32)))
  (import "env" "fetch_function_name" (func $name (param i32)))
  (import "env" "fetch_args_length" (func $args_len (result i32)))
  (import "env" "fetch_args" (func $args (param i32)))
  (import "env" "ret" (func $ret (param i32 i32)))
  (import "env" "write_state" (func $write (param i32 i32 i32 i32)))
  (import "env" "read_state_len" (func $read_len (param i32 i32) (result i32)))
  (import "env" "read_state" (func $read (param i32 i32 i32)))
  (import "env" "remove_from_state" (func $remove (param i32 i32)))
  (memory (export "memory") 2)
  (global (export "__heap_base") i32 (i32.const 65536))
  (global (export "__data_end") i32 (i32.const 128))
  (data (i32.const 16) "value")
  (data (i32.const 24) "doc")
  (data (i32.const 32) "{ \"z\": [1, 2.50], \"a\": \"x\" }")

  ;; the uint256 argument (top 24 bytes zero) as a u64
  (func $arg (result i64)
    (local $x i64) (local $r i64) (local $i i32)
    (if (i32.lt_u (call $args_len) (i32.const 32)) (then unreachable))
    (call $args (i32.const 2048))
    (if (i64.ne (i64.or (i64.or (i64.load (i32.const 2048)) (i64.load (i32.const 2056)))
                        (i64.load (i32.const 2064)))
                (i64.const 0))
      (then unreachable))
    (loop $bytes
      (local.set $r (i64.or (i64.shl (local.get $r) (i64.const 8))
                            (i64.load8_u offset=2072 (local.get $i))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $bytes (i32.lt_u (local.get $i) (i32.const 8))))
    (local.get $r))

  ;; writes the decimal digits of $x at 3072 (reversed at 3200 first); returns their count
  (func $utoa (param $x i64) (result i32)
    (local $n i32) (local $i i32) (local $t i32)
    (loop $digits
      (i32.store8 offset=3200 (local.get $n)
        (i32.add (i32.const 48) (i32.wrap_i64 (i64.rem_u (local.get $x) (i64.const 10)))))
      (local.set $n (i32.add (local.get $n) (i32.const 1)))
      (local.set $x (i64.div_u (local.get $x) (i64.const 10)))
      (br_if $digits (i64.ne (local.get $x) (i64.const 0))))
    ;; reverse into 3072
    (loop $rev
      (i32.store8 offset=3072 (local.get $i)
        (i32.load8_u offset=3199 (i32.sub (local.get $n) (local.get $i))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $rev (i32.lt_u (local.get $i) (local.get $n))))
    (local.get $n))

  (func $store_value (param $x i64)
    (call $write (i32.const 16) (i32.const 5) (i32.const 3072) (call $utoa (local.get $x))))

  ;; the value under "value" as a u64; 0 when the runtime says null
  (func $load_value (result i64)
    (local $len i32) (local $i i32) (local $r i64) (local $c i32)
    (local.set $len (call $read_len (i32.const 16) (i32.const 5)))
    (call $read (i32.const 16) (i32.const 5) (i32.const 5120))
    (if (i32.eq (i32.load (i32.const 5120)) (i32.const 0x6c6c756e)) ;; "null"
      (then (return (i64.const 0))))
    (loop $digits
      (local.set $c (i32.sub (i32.load8_u offset=5120 (local.get $i)) (i32.const 48)))
      (if (i32.gt_u (local.get $c) (i32.const 9)) (then unreachable))
      (local.set $r (i64.add (i64.mul (local.get $r) (i64.const 10)) (i64.extend_i32_u (local.get $c))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $digits (i32.lt_u (local.get $i) (local.get $len))))
    (local.get $r))

  (func $ret_word (param $x i64)
    (local $i i32)
    (loop $bytes
      (i32.store8 (i32.sub (i32.const 4127) (local.get $i)) (i32.wrap_i64 (local.get $x)))
      (local.set $x (i64.shr_u (local.get $x) (i64.const 8)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $bytes (i32.lt_u (local.get $i) (i32.const 8))))
    (call $ret (i32.const 4096) (i32.const 32)))

  (func (export "deploy")
    (call $store_value (call $arg)))

  (func (export "call")
    (local $len i32) (local $w i64)
    (local.set $len (call $name_len))
    (if (i32.gt_u (local.get $len) (i32.const 8)) (then unreachable))
    (call $name (i32.const 1024))
    (local.set $w (i64.load (i32.const 1024)))
    (if (i64.eq (local.get $w) (i64.const 0x746567)) ;; "get"
      (then (call $ret_word (call $load_value)) (return)))
    (if (i64.eq (local.get $w) (i64.const 0x746573)) ;; "set"
      (then (call $store_value (call $arg)) (return)))
    (if (i64.eq (local.get $w) (i64.const 0x65766f6d6572)) ;; "remove"
      (then (call $remove (i32.const 16) (i32.const 5)) (return)))
    (if (i64.eq (local.get $w) (i64.const 0x776172)) ;; "raw"
      (then
        (local.set $len (call $read_len (i32.const 16) (i32.const 5)))
        (call $read (i32.const 16) (i32.const 5) (i32.const 5120))
        (call $ret (i32.const 5120) (local.get $len))
        (return)))
    (if (i64.eq (local.get $w) (i64.const 0x636f64)) ;; "doc"
      (then
        (call $write (i32.const 24) (i32.const 3) (i32.const 32) (i32.const 28))
        (local.set $len (call $read_len (i32.const 24) (i32.const 3)))
        (call $read (i32.const 24) (i32.const 3) (i32.const 5120))
        (call $ret (i32.const 5120) (local.get $len))
        (return)))
    unreachable)
)
