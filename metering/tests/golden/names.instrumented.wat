(module $named
  (type (;0;) (func (param i32)))
  (type (;1;) (func))
  (type (;2;) (func))
  (import "detvm" "out_of_gas" (func (;0;) (type 2)))
  (import "detvm" "stack_overflow" (func (;1;) (type 2)))
  (import "detvm" "gas_left" (global (;0;) (mut i64)))
  (import "detvm" "stack_left" (global (;1;) (mut i64)))
  (import "env" "imported" (func $imported (;2;) (type 0) (param i32)))
  (global $total (;2;) (mut i32) i32.const 0)
  (export "main" (func $main))
  (func $helper (;3;) (type 0) (param $value i32)
    (local $twice i32)
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
    i64.const 18
    i64.lt_u
    if ;; label = @1
      call 0
    end
    global.get 0
    i64.const 18
    i64.sub
    global.set 0
    local.get $value
    local.get $value
    i32.add
    local.tee $twice
    global.set $total
    block ;; label = @1
      local.get $twice
      call $imported
    end
    global.get 1
    i64.const 80
    i64.add
    global.set 1
  )
  (func $main (;4;) (type 1)
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
    i64.const 11
    i64.lt_u
    if ;; label = @1
      call 0
    end
    global.get 0
    i64.const 11
    i64.sub
    global.set 0
    i32.const 21
    call $helper
    global.get 1
    i64.const 68
    i64.add
    global.set 1
  )
)
