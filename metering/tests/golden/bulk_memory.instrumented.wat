(module
  (type (;0;) (func (param i32 i32 i32)))
  (type (;1;) (func))
  (import "detvm" "out_of_gas" (func (;0;) (type 1)))
  (import "detvm" "stack_overflow" (func (;1;) (type 1)))
  (import "detvm" "gas_left" (global (;0;) (mut i64)))
  (import "detvm" "stack_left" (global (;1;) (mut i64)))
  (memory (;0;) 1 1024)
  (export "fill" (func 2))
  (export "copy" (func 3))
  (export "init" (func 4))
  (func (;2;) (type 0) (param i32 i32 i32)
    (local i32 i64)
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
    i64.const 13
    i64.lt_u
    if ;; label = @1
      call 0
    end
    global.get 0
    i64.const 13
    i64.sub
    global.set 0
    local.get 0
    local.get 1
    local.get 2
    local.tee 3
    i64.extend_i32_u
    i64.const 1
    i64.mul
    local.tee 4
    global.get 0
    i64.gt_u
    if ;; label = @1
      call 0
    end
    global.get 0
    local.get 4
    i64.sub
    global.set 0
    local.get 3
    memory.fill
    global.get 1
    i64.const 88
    i64.add
    global.set 1
  )
  (func (;3;) (type 0) (param i32 i32 i32)
    (local i32 i64)
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
    i64.const 13
    i64.lt_u
    if ;; label = @1
      call 0
    end
    global.get 0
    i64.const 13
    i64.sub
    global.set 0
    local.get 0
    local.get 1
    local.get 2
    local.tee 3
    i64.extend_i32_u
    i64.const 1
    i64.mul
    local.tee 4
    global.get 0
    i64.gt_u
    if ;; label = @1
      call 0
    end
    global.get 0
    local.get 4
    i64.sub
    global.set 0
    local.get 3
    memory.copy
    global.get 1
    i64.const 88
    i64.add
    global.set 1
  )
  (func (;4;) (type 0) (param i32 i32 i32)
    (local i32 i64)
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
    i64.const 18
    i64.lt_u
    if ;; label = @1
      call 0
    end
    global.get 0
    i64.const 18
    i64.sub
    global.set 0
    local.get 0
    local.get 1
    local.get 2
    local.tee 3
    i64.extend_i32_u
    i64.const 1
    i64.mul
    local.tee 4
    global.get 0
    i64.gt_u
    if ;; label = @1
      call 0
    end
    global.get 0
    local.get 4
    i64.sub
    global.set 0
    local.get 3
    memory.init $d
    data.drop $d
    global.get 1
    i64.const 88
    i64.add
    global.set 1
  )
  (data $d (;0;) "hello")
)
