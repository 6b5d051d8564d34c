;; memory.init of a 64 KiB passive segment over and over (it cost a flat 2 before).
(module
  (memory (export "memory") 256)
  (data $seg
;;! repeat 4096 "\00\01\02\03\04\05\06\07\08\09\0a\0b\0c\0d\0e\0f"
  )
  (func (export "deploy"))
  (func (export "call")
    (loop $l (memory.init $seg (i32.const 0) (i32.const 0) (i32.const 65536)) (br $l))))
