;; A calculator written the way eng-wasm's generated code works, by hand: `call` fetches the
;; function's name (the runtime hands over the text before "(") and dispatches on it, trapping on
;; any other name (eng-wasm panics); arguments come ABI-encoded through fetch_args, the output
;; goes back ABI-encoded through ret. Like a Rust build it exports __heap_base, __data_end,
;; __indirect_function_table and rust_eh_personality, and has a data segment and a table.
;; Values are uint256 words whose top 24 bytes must be zero (larger ones trap, as an overflow).
(module
  (import "env" "fetch_function_name_length" (func $name_len (result i32)))
  (import "env" "fetch_function_name" (func $name (param i32)))
  (import "env" "fetch_args_length" (func $args_len (result i32)))
  (import "env" "fetch_args" (func $args (param i32)))
  (import "env" "ret" (func $ret (param i32 i32)))
  (memory (export "memory") 2)
  (table $t (export "__indirect_function_table") 4 4 funcref)
  (elem (i32.const 1) $add $sub $mul)
  (global $__stack_pointer (mut i32) (i32.const 65536))
  (global (export "__heap_base") i32 (i32.const 65536))
  (global (export "__data_end") i32 (i32.const 32))
  (data (i32.const 16) "enigma calculator")

  ;; a big-endian u64 from the last 8 bytes of the ABI word at $p (the other 24 must be zero)
  (func $word (param $p i32) (result i64)
    (local $x i64)
    (if (i64.ne (i64.or (i64.or (i64.load (local.get $p)) (i64.load offset=8 (local.get $p)))
                        (i64.load offset=16 (local.get $p)))
                (i64.const 0))
      (then unreachable))
    (local.set $x (i64.load offset=24 (local.get $p)))
    (call $bswap (local.get $x)))

  (func $bswap (param $x i64) (result i64)
    (i64.or
      (i64.or
        (i64.or (i64.shl (i64.and (local.get $x) (i64.const 0xff)) (i64.const 56))
                (i64.shl (i64.and (local.get $x) (i64.const 0xff00)) (i64.const 40)))
        (i64.or (i64.shl (i64.and (local.get $x) (i64.const 0xff0000)) (i64.const 24))
                (i64.shl (i64.and (local.get $x) (i64.const 0xff000000)) (i64.const 8))))
      (i64.or
        (i64.or (i64.and (i64.shr_u (local.get $x) (i64.const 8)) (i64.const 0xff000000))
                (i64.and (i64.shr_u (local.get $x) (i64.const 24)) (i64.const 0xff0000)))
        (i64.or (i64.and (i64.shr_u (local.get $x) (i64.const 40)) (i64.const 0xff00))
                (i64.shr_u (local.get $x) (i64.const 56))))))

  (func $add (param $a i64) (param $b i64) (result i64)
    (local $r i64)
    (local.set $r (i64.add (local.get $a) (local.get $b)))
    (if (i64.lt_u (local.get $r) (local.get $a)) (then unreachable))
    (local.get $r))

  (func $sub (param $a i64) (param $b i64) (result i64)
    (if (i64.gt_u (local.get $b) (local.get $a)) (then unreachable))
    (i64.sub (local.get $a) (local.get $b)))

  (func $mul (param $a i64) (param $b i64) (result i64)
    (local $r i64)
    (local.set $r (i64.mul (local.get $a) (local.get $b)))
    (if (i64.ne (local.get $a) (i64.const 0))
      (then (if (i64.ne (i64.div_u (local.get $r) (local.get $a)) (local.get $b)) (then unreachable))))
    (local.get $r))

  ;; fetches the two arguments, applies table entry $op, returns the ABI-encoded result
  (func $binop (param $op i32)
    (if (i32.lt_u (call $args_len) (i32.const 64)) (then unreachable))
    (call $args (i32.const 2048))
    (i64.store offset=4120 (i32.const 0)
      (call $bswap
        (call_indirect (param i64 i64) (result i64)
          (call $word (i32.const 2048)) (call $word (i32.const 2080)) (local.get $op))))
    (call $ret (i32.const 4096) (i32.const 32)))

  (func $deploy (export "deploy"))

  (func $call (export "call")
    (local $len i32) (local $w i64)
    (local.set $len (call $name_len))
    (if (i32.gt_u (local.get $len) (i32.const 8)) (then unreachable))
    (call $name (i32.const 1024))
    (local.set $w (i64.load (i32.const 1024)))
    (if (i64.eq (local.get $w) (i64.const 0x646461)) (then (call $binop (i32.const 1)) (return)))   ;; "add"
    (if (i64.eq (local.get $w) (i64.const 0x627573)) (then (call $binop (i32.const 2)) (return)))   ;; "sub"
    (if (i64.eq (local.get $w) (i64.const 0x6c756d)) (then (call $binop (i32.const 3)) (return)))   ;; "mul"
    unreachable)

  (func $rust_eh_personality (export "rust_eh_personality"))
)
