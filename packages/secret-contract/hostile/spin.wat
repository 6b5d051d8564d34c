;; A plain loop: the reference for gas per second.
(module
  (memory (export "memory") 1)
  (func (export "deploy"))
  (func (export "call") (loop $l (br $l))))
