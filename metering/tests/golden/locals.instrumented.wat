(module
  (type (;0;) (func (param i32) (result i64)))
  (type (;1;) (func))
  (import "detvm" "out_of_gas" (func (;0;) (type 1)))
  (import "detvm" "stack_overflow" (func (;1;) (type 1)))
  (import "detvm" "gas_left" (global (;0;) (mut i64)))
  (import "detvm" "stack_left" (global (;1;) (mut i64)))
  (export "locals" (func 2))
  (func (;2;) (type 0) (param i32) (result i64)
    (local i32 i64 f32 f64 funcref i64 i64 i64)
    global.get 1
    i64.const 132
    i64.lt_u
    if ;; label = @1
      call 1
    end
    global.get 1
    i64.const 132
    i64.sub
    global.set 1
    global.get 0
    i64.const 11
    i64.lt_u
    if ;; label = @1
      call 0
    end
    global.get 0
    i64.const 11
    i64.sub
    global.set 0
    local.get 0
    local.set 1
    local.get 2
    global.get 1
    i64.const 132
    i64.add
    global.set 1
  )
)
