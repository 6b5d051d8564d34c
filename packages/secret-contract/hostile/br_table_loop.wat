;; A br_table with 64,993 targets (V8 refuses more than 65,520) in a loop.
(module
  (memory (export "memory") 1)
  (func (export "deploy"))
  (func (export "call") (local $i i32)
    (loop $l
      (block $b
        (local.set $i (i32.add (local.get $i) (i32.const 7)))
        (br_table
;;! repeat 4062 $b $b $b $b $b $b $b $b $b $b $b $b $b $b $b $b
          $b (i32.rem_u (local.get $i) (i32.const 64993))))
      (br $l))))
