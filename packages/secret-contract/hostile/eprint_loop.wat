;; eprint of 16 MiB over and over (it decoded the whole buffer before checking its limit).
(module
  (import "env" "eprint" (func $eprint (param i32 i32)))
  (memory (export "memory") 256)
  (func (export "deploy"))
  (func (export "call") (loop $l (call $eprint (i32.const 0) (i32.const 16777216)) (br $l))))
