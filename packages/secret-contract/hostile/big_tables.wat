;; A table of 10 million entries and no code (1.4 GB to instantiate four of them before).
(module
  (memory (export "memory") 1)
  (table 10000000 funcref)
  (func (export "deploy"))
  (func (export "call")))
