;; One function of 500,000 instructions (compiling it is the work), run in a loop.
(module
  (memory (export "memory") 1)
  (func $f
;;! repeat 50000 nop nop nop nop nop nop nop nop nop nop
  )
  (func (export "deploy"))
  (func (export "call") (loop $l (call $f) (br $l))))
