;; A 200 KB JSON value written over and over (each write parses it).
(module
  (import "env" "write_state" (func $write (param i32 i32 i32 i32)))
  (memory (export "memory") 16)
  (data (i32.const 0) "k")
  (func (export "deploy"))
  (func (export "call")
    ;; a JSON string of 200,000 bytes
    (memory.fill (i32.const 16) (i32.const 0x78) (i32.const 200000))
    (i32.store8 (i32.const 16) (i32.const 0x22))
    (i32.store8 (i32.const 200015) (i32.const 0x22))
    (loop $l (call $write (i32.const 0) (i32.const 1) (i32.const 16) (i32.const 200000)) (br $l))))
