;; A function with 10,000 i64 locals (each call zeroes them) called in a loop.
(module
  (memory (export "memory") 1)
  (func $f
;;! repeat 1000 (local i64 i64 i64 i64 i64 i64 i64 i64 i64 i64)
  )
  (func (export "deploy"))
  (func (export "call") (loop $l (call $f) (br $l))))
