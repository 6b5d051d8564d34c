;; rand of 1 MiB (the largest buffer) over and over.
(module
  (import "env" "rand" (func $rand (param i32 i32)))
  (memory (export "memory") 256)
  (func (export "deploy"))
  (func (export "call") (loop $l (call $rand (i32.const 0) (i32.const 1048576)) (br $l))))
