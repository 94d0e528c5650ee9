(module
  (type (;0;) (func (param i32 i32) (result i32)))
  (type (;1;) (func (param i32) (result i32)))
  (type (;2;) (func))
  (import "detvm" "out_of_gas" (func (;0;) (type 2)))
  (import "detvm" "stack_overflow" (func (;1;) (type 2)))
  (import "detvm" "gas_left" (global (;0;) (mut i64)))
  (import "detvm" "stack_left" (global (;1;) (mut i64)))
  (export "max" (func 2))
  (export "abs" (func 3))
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
    i64.const 5
    i64.lt_u
    if ;; label = @1
      call 0
    end
    global.get 0
    i64.const 5
    i64.sub
    global.set 0
    local.get 0
    local.get 1
    i32.gt_s
    if (result i32) ;; label = @1
      global.get 0
      i64.const 1
      i64.lt_u
      if ;; label = @2
        call 0
      end
      global.get 0
      i64.const 1
      i64.sub
      global.set 0
      local.get 0
    else
      global.get 0
      i64.const 1
      i64.lt_u
      if ;; label = @2
        call 0
      end
      global.get 0
      i64.const 1
      i64.sub
      global.set 0
      local.get 1
    end
    global.get 1
    i64.const 80
    i64.add
    global.set 1
  )
  (func (;3;) (type 1) (param i32) (result i32)
    global.get 1
    i64.const 76
    i64.lt_u
    if ;; label = @1
      call 1
    end
    global.get 1
    i64.const 76
    i64.sub
    global.set 1
    global.get 0
    i64.const 5
    i64.lt_u
    if ;; label = @1
      call 0
    end
    global.get 0
    i64.const 5
    i64.sub
    global.set 0
    local.get 0
    i32.const 0
    i32.lt_s
    if ;; label = @1
      global.get 0
      i64.const 5
      i64.lt_u
      if ;; label = @2
        call 0
      end
      global.get 0
      i64.const 5
      i64.sub
      global.set 0
      i32.const 0
      local.get 0
      i32.sub
      global.get 1
      i64.const 76
      i64.add
      global.set 1
      return
    end
    global.get 0
    i64.const 1
    i64.lt_u
    if ;; label = @1
      call 0
    end
    global.get 0
    i64.const 1
    i64.sub
    global.set 0
    local.get 0
    global.get 1
    i64.const 76
    i64.add
    global.set 1
  )
)
