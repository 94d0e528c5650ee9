(module
  (import "env" "ext" (func $ext))
  (import "env" "g" (global $g i32))
  (table 4 funcref)
  (func $a)
  (func $b (result funcref) ref.func $a)
  (elem (table 0) (global.get $g) func $a $b)
  (elem funcref (ref.func $b) (ref.null func))
  (elem declare func $ext))
