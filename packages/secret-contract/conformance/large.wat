;; A module the size of a large Rust-built contract (about 1.6 MB): 6,500 functions of a few
;; hundred instructions, a table holding them, a data segment, Rust's exports. It computes
;; nothing interesting; it is there to show that a module of that size deploys, and how fast
;; (`pnpm bench:enclave`).
(module
  (import "env" "ret" (func $ret (param i32 i32)))
  (memory (export "memory") 17)
  (table (export "__indirect_function_table") 4001 4001 funcref)
  (global $__stack_pointer (mut i32) (i32.const 1048576))
  (global (export "__heap_base") i32 (i32.const 1114112))
  (global (export "__data_end") i32 (i32.const 1114112))
  (elem (i32.const 1) func
;;! repeat 400 1 2 3 4 5 6 7 8 9 10
  )
  (data (i32.const 1048576)
;;! repeat 1024 "\00\01\02\03\04\05\06\07\08\09\0a\0b\0c\0d\0e\0f\10\11\12\13\14\15\16\17\18\19\1a\1b\1c\1d\1e\1f"
  )
;;! repeat 6500 (func (param $x i32) (result i32) (local $y i32) (local.set $y (i32.add (local.get $x) (i32.const 1))) (local.set $y (i32.mul (local.get $y) (i32.const 3))) (local.set $y (i32.xor (local.get $y) (i32.const 0x5a5a))) (local.set $y (i32.add (local.get $y) (i32.load (i32.const 1048576)))) (local.set $y (i32.rotl (local.get $y) (i32.const 7))) (local.set $y (i32.add (local.get $x) (i32.const 1))) (local.set $y (i32.mul (local.get $y) (i32.const 3))) (local.set $y (i32.xor (local.get $y) (i32.const 0x5a5a))) (local.set $y (i32.add (local.get $y) (i32.load (i32.const 1048576)))) (local.set $y (i32.rotl (local.get $y) (i32.const 7))) (local.set $y (i32.add (local.get $x) (i32.const 1))) (local.set $y (i32.mul (local.get $y) (i32.const 3))) (local.set $y (i32.xor (local.get $y) (i32.const 0x5a5a))) (local.set $y (i32.add (local.get $y) (i32.load (i32.const 1048576)))) (local.set $y (i32.rotl (local.get $y) (i32.const 7))) (local.set $y (i32.add (local.get $x) (i32.const 1))) (local.set $y (i32.mul (local.get $y) (i32.const 3))) (local.set $y (i32.xor (local.get $y) (i32.const 0x5a5a))) (local.set $y (i32.add (local.get $y) (i32.load (i32.const 1048576)))) (local.set $y (i32.rotl (local.get $y) (i32.const 7))) (local.set $y (i32.add (local.get $x) (i32.const 1))) (local.set $y (i32.mul (local.get $y) (i32.const 3))) (local.set $y (i32.xor (local.get $y) (i32.const 0x5a5a))) (local.set $y (i32.add (local.get $y) (i32.load (i32.const 1048576)))) (local.set $y (i32.rotl (local.get $y) (i32.const 7))) (if (i32.gt_u (local.get $y) (i32.const 1000)) (then (local.set $y (i32.sub (local.get $y) (i32.const 1000))))) (local.get $y))
  (func (export "deploy"))
  (func (export "call")
    (i32.store (i32.const 0) (call_indirect (param i32) (result i32) (i32.const 5) (i32.const 1)))
    (call $ret (i32.const 0) (i32.const 4)))
  (func (export "rust_eh_personality"))
)
