(module
  (type (;0;) (func (param i32 i32) (result i32)))
  (type (;1;) (func))
  (import "detvm" "out_of_gas" (func (;0;) (type 1)))
  (import "detvm" "stack_overflow" (func (;1;) (type 1)))
  (import "detvm" "gas_left" (global (;0;) (mut i64)))
  (import "detvm" "stack_left" (global (;1;) (mut i64)))
  (export "add" (func 2))
  (func (;2;) (type 0) (param i32 i32) (result i32)
    global.get 1
    i64.const 80
    i64.lt_u
    if ;; label = @1
      call 1
    end
    global.get 1
    i64.const 80
    i64.sub
    global.set 1
    global.get 0
    i64.const 7
    i64.lt_u
    if ;; label = @1
      call 0
    end
    global.get 0
    i64.const 7
    i64.sub
    global.set 0
    local.get 0
    local.get 1
    i32.add
    i32.const 3
    i32.mul
    global.get 1
    i64.const 80
    i64.add
    global.set 1
  )
)
