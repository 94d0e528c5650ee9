(module
  (type (;0;) (func (param i32) (result i32)))
  (type (;1;) (func))
  (import "detvm" "out_of_gas" (func (;0;) (type 1)))
  (import "detvm" "stack_overflow" (func (;1;) (type 1)))
  (import "detvm" "gas_left" (global (;0;) (mut i64)))
  (import "detvm" "stack_left" (global (;1;) (mut i64)))
  (export "sum" (func 2))
  (func (;2;) (type 0) (param $n i32) (result i32)
    (local $acc i32)
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
    i64.const 1
    i64.lt_u
    if ;; label = @1
      call 0
    end
    global.get 0
    i64.const 1
    i64.sub
    global.set 0
    block ;; label = @1
      loop ;; label = @2
        global.get 0
        i64.const 4
        i64.lt_u
        if ;; label = @3
          call 0
        end
        global.get 0
        i64.const 4
        i64.sub
        global.set 0
        local.get $n
        i32.eqz
        br_if 1 (;@1;)
        global.get 0
        i64.const 10
        i64.lt_u
        if ;; label = @3
          call 0
        end
        global.get 0
        i64.const 10
        i64.sub
        global.set 0
        local.get $acc
        local.get $n
        i32.add
        local.set $acc
        local.get $n
        i32.const 1
        i32.sub
        local.set $n
        br 0 (;@2;)
      end
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
    local.get $acc
    global.get 1
    i64.const 80
    i64.add
    global.set 1
  )
)
