;; A 200 KB value written once, then read back over and over.
(module
  (import "env" "write_state" (func $write (param i32 i32 i32 i32)))
  (import "env" "read_state" (func $read (param i32 i32 i32)))
  (memory (export "memory") 16)
  (data (i32.const 0) "k")
  (func (export "deploy"))
  (func (export "call")
    (memory.fill (i32.const 16) (i32.const 0x31) (i32.const 200000)) ;; a 200000-digit number
    (call $write (i32.const 0) (i32.const 1) (i32.const 16) (i32.const 200000))
    (loop $l (call $read (i32.const 0) (i32.const 1) (i32.const 300000)) (br $l))))
