(module
  (type (;0;) (func (param i32 i64) (result i64 i32)))
  (type (;1;) (func (param i32) (result i32 i64)))
  (type (;2;) (func (param i32 i64) (result i32 i64)))
  (type (;3;) (func))
  (type (;4;) (func (result i64 i32)))
  (type (;5;) (func (result i32 i64)))
  (import "detvm" "out_of_gas" (func (;0;) (type 3)))
  (import "detvm" "stack_overflow" (func (;1;) (type 3)))
  (import "detvm" "gas_left" (global (;0;) (mut i64)))
  (import "detvm" "stack_left" (global (;1;) (mut i64)))
  (export "swap" (func $swap))
  (export "pair" (func 3))
  (func $swap (;2;) (type 0) (param i32 i64) (result i64 i32)
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
    i64.const 2
    i64.lt_u
    if ;; label = @1
      call 0
    end
    global.get 0
    i64.const 2
    i64.sub
    global.set 0
    local.get 1
    local.get 0
    global.get 1
    i64.const 88
    i64.add
    global.set 1
  )
  (func (;3;) (type 1) (param i32) (result i32 i64)
    global.get 1
    i64.const 84
    i64.lt_u
    if ;; label = @1
      call 1
    end
    global.get 1
    i64.const 84
    i64.sub
    global.set 1
    block (type 5) (result i32 i64) ;; label = @1
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
      local.get 0
      i64.const 7
      block (type 2) (param i32 i64) (result i32 i64) ;; label = @2
        local.get 0
        br_if 1 (;@1;)
        global.get 0
        i64.const 14
        i64.lt_u
        if ;; label = @3
          call 0
        end
        global.get 0
        i64.const 14
        i64.sub
        global.set 0
        call $swap
        drop
        drop
        i32.const 3
        i64.const 9
      end
    end
    global.get 1
    i64.const 84
    i64.add
    global.set 1
  )
)
