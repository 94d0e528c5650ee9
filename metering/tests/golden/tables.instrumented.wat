(module
  (type (;0;) (func))
  (type (;1;) (func (param externref) (result i32)))
  (type (;2;) (func))
  (import "detvm" "out_of_gas" (func (;0;) (type 2)))
  (import "detvm" "stack_overflow" (func (;1;) (type 2)))
  (import "detvm" "gas_left" (global (;0;) (mut i64)))
  (import "detvm" "stack_left" (global (;1;) (mut i64)))
  (table $t (;0;) 1 10000 funcref)
  (table $e (;1;) 0 10000 externref)
  (export "ops" (func 3))
  (elem $seg (;0;) func $f)
  (func $f (;2;) (type 0)
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
  (func (;3;) (type 1) (param externref) (result i32)
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
    i64.const 262
    i64.lt_u
    if ;; label = @1
      call 0
    end
    global.get 0
    i64.const 262
    i64.sub
    global.set 0
    ref.null func
    i32.const 2
    local.tee 1
    i64.extend_i32_u
    i64.const 2
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
    table.grow $t
    drop
    i32.const 0
    ref.func $f
    i32.const 1
    local.tee 1
    i64.extend_i32_u
    i64.const 2
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
    table.fill $t
    i32.const 0
    i32.const 0
    i32.const 1
    local.tee 1
    i64.extend_i32_u
    i64.const 2
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
    table.copy
    i32.const 0
    i32.const 0
    i32.const 1
    local.tee 1
    i64.extend_i32_u
    i64.const 2
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
    table.init $seg
    elem.drop $seg
    local.get 0
    i32.const 1
    local.tee 1
    i64.extend_i32_u
    i64.const 2
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
    table.grow $e
    drop
    i32.const 0
    table.get $t
    ref.is_null
    table.size $t
    i32.add
    global.get 1
    i64.const 88
    i64.add
    global.set 1
  )
)
