;; table.copy within the largest table, and table.grow, over and over.
(module
  (memory (export "memory") 1)
  (table $t 65536 funcref)
  (func (export "deploy"))
  (func (export "call")
    (loop $l
      (table.copy $t $t (i32.const 0) (i32.const 32768) (i32.const 32768))
      (drop (table.grow $t (ref.null func) (i32.const 65536)))
      (br $l))))
