(module
  (type (;0;) (func (param i32) (result i32)))
  (type (;1;) (func))
  (import "detvm" "out_of_gas" (func (;0;) (type 1)))
  (import "detvm" "stack_overflow" (func (;1;) (type 1)))
  (import "detvm" "gas_left" (global (;0;) (mut i64)))
  (import "detvm" "stack_left" (global (;1;) (mut i64)))
  (export "dead" (func 2))
  (func (;2;) (type 0) (param i32) (result i32)
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
    i64.const 3
    i64.lt_u
    if ;; label = @1
      call 0
    end
    global.get 0
    i64.const 3
    i64.sub
    global.set 0
    block ;; label = @1
      local.get 0
      br_if 0 (;@1;)
      global.get 0
      i64.const 3
      i64.lt_u
      if ;; label = @2
        call 0
      end
      global.get 0
      i64.const 3
      i64.sub
      global.set 0
      i32.const 1
      global.get 1
      i64.const 72
      i64.add
      global.set 1
      return
      i32.const 2
      drop
      block ;; label = @2
        i32.const 3
        drop
      end
    end
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
    unreachable
    i32.const 4
    drop
  )
)
