;; encrypt of 1 MiB over and over.
(module
  (import "env" "encrypt" (func $encrypt (param i32 i32 i32 i32)))
  (memory (export "memory") 256)
  (func (export "deploy"))
  (func (export "call")
    (loop $l (call $encrypt (i32.const 0) (i32.const 1048576) (i32.const 0) (i32.const 2097152)) (br $l))))
