;; memory.grow by one page until it fails, and on forever.
(module
  (memory (export "memory") 1)
  (func (export "deploy"))
  (func (export "call") (loop $l (drop (memory.grow (i32.const 1))) (br $l))))
