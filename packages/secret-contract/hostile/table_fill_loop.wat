;; table.fill of the largest table over and over.
(module
  (memory (export "memory") 1)
  (table $t 65536 funcref)
  (func (export "deploy"))
  (func (export "call")
    (loop $l (table.fill $t (i32.const 0) (ref.null func) (i32.const 65536)) (br $l))))
