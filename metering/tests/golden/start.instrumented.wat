(module
  (type (;0;) (func))
  (type (;1;) (func (result i32)))
  (type (;2;) (func))
  (import "detvm" "out_of_gas" (func (;0;) (type 2)))
  (import "detvm" "stack_overflow" (func (;1;) (type 2)))
  (import "detvm" "gas_left" (global (;0;) (mut i64)))
  (import "detvm" "stack_left" (global (;1;) (mut i64)))
  (import "env" "base" (global $base (;2;) i32))
  (global $counter (;3;) (mut i32) i32.const 0)
  (global $copy (;4;) i32 global.get $base)
  (export "get" (func 3))
  (export "counter" (global $counter))
  (start $init)
  (func $init (;2;) (type 0)
    global.get 1
    i64.const 68
    i64.lt_u
    if ;; label = @1
      call 1
    end
    global.get 1
    i64.const 68
    i64.sub
    global.set 1
    global.get 0
    i64.const 4
    i64.lt_u
    if ;; label = @1
      call 0
    end
    global.get 0
    i64.const 4
    i64.sub
    global.set 0
    global.get $copy
    global.set $counter
    global.get 1
    i64.const 68
    i64.add
    global.set 1
  )
  (func (;3;) (type 1) (result i32)
    global.get 1
    i64.const 68
    i64.lt_u
    if ;; label = @1
      call 1
    end
    global.get 1
    i64.const 68
    i64.sub
    global.set 1
    global.get 0
    i64.const 2
    i64.lt_u
    if ;; label = @1
      call 0
    end
    global.get 0
    i64.const 2
    i64.sub
    global.set 0
    global.get $counter
    global.get 1
    i64.const 68
    i64.add
    global.set 1
  )
)
