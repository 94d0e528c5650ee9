(module
  (type (;0;) (func (param i32) (result i32)))
  (type (;1;) (func (result i32)))
  (type (;2;) (func))
  (import "detvm" "out_of_gas" (func (;0;) (type 2)))
  (import "detvm" "stack_overflow" (func (;1;) (type 2)))
  (import "detvm" "gas_left" (global (;0;) (mut i64)))
  (import "detvm" "stack_left" (global (;1;) (mut i64)))
  (memory (;0;) 1 10)
  (export "grow" (func 2))
  (export "size" (func 3))
  (func (;2;) (type 0) (param i32) (result i32)
    (local i32 i64)
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
    i64.const 101
    i64.lt_u
    if ;; label = @1
      call 0
    end
    global.get 0
    i64.const 101
    i64.sub
    global.set 0
    local.get 0
    local.tee 1
    i64.extend_i32_u
    i64.const 4096
    i64.mul
    local.tee 2
    global.get 0
    i64.gt_u
    if ;; label = @1
      call 0
    end
    global.get 0
    local.get 2
    i64.sub
    global.set 0
    local.get 1
    memory.grow
    global.get 1
    i64.const 72
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
    memory.size
    global.get 1
    i64.const 68
    i64.add
    global.set 1
  )
)
