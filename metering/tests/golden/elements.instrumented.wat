(module
  (type (;0;) (func))
  (type (;1;) (func (result funcref)))
  (type (;2;) (func))
  (import "detvm" "out_of_gas" (func (;0;) (type 2)))
  (import "detvm" "stack_overflow" (func (;1;) (type 2)))
  (import "detvm" "gas_left" (global (;0;) (mut i64)))
  (import "detvm" "stack_left" (global (;1;) (mut i64)))
  (import "env" "ext" (func $ext (;2;) (type 0)))
  (import "env" "g" (global $g (;2;) i32))
  (table (;0;) 4 10000 funcref)
  (elem (;0;) (table 0) (global.get $g) func $a $b)
  (elem (;1;) funcref (ref.func $b) (ref.null func))
  (elem (;2;) declare func $ext)
  (func $a (;3;) (type 0)
    global.get 1
    i64.const 64
    i64.lt_u
    if ;; label = @1
      call 1
    end
    global.get 1
    i64.const 64
    i64.sub
    global.set 1
    global.get 1
    i64.const 64
    i64.add
    global.set 1
  )
  (func $b (;4;) (type 1) (result funcref)
    global.get 1
    i64.const 72
    i64.lt_u
    if ;; label = @1
      call 1
    end
    global.get 1
    i64.const 72
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
    ref.func $a
    global.get 1
    i64.const 72
    i64.add
    global.set 1
  )
)
