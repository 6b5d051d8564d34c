;; A br_table with 65,536 targets in a loop.
(module
  (memory (export "memory") 1)
  (func (export "deploy"))
  (func (export "call") (local $i i32)
    (loop $l
      (block $b
        (local.set $i (i32.add (local.get $i) (i32.const 7)))
        (br_table
;;! repeat 4096 $b $b $b $b $b $b $b $b $b $b $b $b $b $b $b $b
          $b (i32.and (local.get $i) (i32.const 0xffff))))
      (br $l))))
