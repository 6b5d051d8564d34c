;; memory.copy and memory.fill of 8 MiB over and over.
(module
  (memory (export "memory") 256)
  (func (export "deploy"))
  (func (export "call")
    (loop $l
      (memory.copy (i32.const 0) (i32.const 8388608) (i32.const 8388608))
      (memory.fill (i32.const 0) (i32.const 7) (i32.const 8388608))
      (br $l))))
