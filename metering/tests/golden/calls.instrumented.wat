(module
  (type $binop (;0;) (func (param i32 i32) (result i32)))
  (type (;1;) (func (param i32)))
  (type (;2;) (func (param i32 i32 i32) (result i32)))
  (type (;3;) (func))
  (import "detvm" "out_of_gas" (func (;0;) (type 3)))
  (import "detvm" "stack_overflow" (func (;1;) (type 3)))
  (import "detvm" "gas_left" (global (;0;) (mut i64)))
  (import "detvm" "stack_left" (global (;1;) (mut i64)))
  (import "env" "log" (func $log (;2;) (type 1) (param i32)))
  (table (;0;) 2 10000 funcref)
  (export "apply" (func 5))
  (elem (;0;) (i32.const 0) func $add $sub)
  (func $add (;3;) (type $binop) (param i32 i32) (result i32)
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
    i64.const 3
    i64.lt_u
    if ;; label = @1
      call 0
    end
    global.get 0
    i64.const 3
    i64.sub
    global.set 0
    local.get 0
    local.get 1
    i32.add
    global.get 1
    i64.const 80
    i64.add
    global.set 1
  )
  (func $sub (;4;) (type $binop) (param i32 i32) (result i32)
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
    i64.const 3
    i64.lt_u
    if ;; label = @1
      call 0
    end
    global.get 0
    i64.const 3
    i64.sub
    global.set 0
    local.get 0
    local.get 1
    i32.sub
    global.get 1
    i64.const 80
    i64.add
    global.set 1
  )
  (func (;5;) (type 2) (param i32 i32 i32) (result i32)
    global.get 1
    i64.const 88
    i64.lt_u
    if ;; label = @1
      call 1
    end
    global.get 1
    i64.const 88
    i64.sub
    global.set 1
    global.get 0
    i64.const 42
    i64.lt_u
    if ;; label = @1
      call 0
    end
    global.get 0
    i64.const 42
    i64.sub
    global.set 0
    local.get 0
    call $log
    local.get 1
    local.get 2
    local.get 0
    call_indirect (type $binop)
    local.get 1
    local.get 2
    call $add
    i32.add
    global.get 1
    i64.const 88
    i64.add
    global.set 1
  )
)
