;; Unbounded recursion with a large frame.
(module
  (memory (export "memory") 1)
  (func $f (param i64 i64 i64 i64) (local i64 i64 i64 i64 i64 i64 i64 i64)
    (call $f (local.get 0) (local.get 1) (local.get 2) (local.get 3)))
  (func (export "deploy"))
  (func (export "call") (call $f (i64.const 1) (i64.const 2) (i64.const 3) (i64.const 4))))
