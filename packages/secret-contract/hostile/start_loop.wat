;; A start function that never returns.
(module
  (memory (export "memory") 1)
  (func $start (loop $l (br $l)))
  (start $start)
  (func (export "deploy"))
  (func (export "call")))
