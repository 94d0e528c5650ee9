(module
  (import "env" "base" (global $base i32))
  (global $counter (mut i32) (i32.const 0))
  (global $copy i32 (global.get $base))
  (func $init
    global.get $copy
    global.set $counter)
  (func (export "get") (result i32) global.get $counter)
  (export "counter" (global $counter))
  (start $init))
