(module
  (type (;0;) (func (param i32)))
  (type (;1;) (func (param i32) (result i32)))
  (type (;2;) (func (result i32)))
  (type (;3;) (func))
  (import "detvm" "out_of_gas" (func (;0;) (type 3)))
  (import "detvm" "stack_overflow" (func (;1;) (type 3)))
  (import "detvm" "gas_left" (global (;0;) (mut i64)))
  (import "detvm" "stack_left" (global (;1;) (mut i64)))
  (global $out (;2;) (mut i32) i32.const 0)
  (export "classify" (func 2))
  (export "early" (func 3))
  (export "out" (func 4))
  (func (;2;) (type 0) (param i32)
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
    block ;; label = @1
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
      block ;; label = @2
        block ;; label = @3
          block ;; label = @4
            local.get 0
            br_table 0 (;@4;) 1 (;@3;) 2 (;@2;) 3 (;@1;)
          end
          global.get 0
          i64.const 5
          i64.lt_u
          if ;; label = @4
            call 0
          end
          global.get 0
          i64.const 5
          i64.sub
          global.set 0
          i32.const 30
          global.set $out
          global.get 1
          i64.const 76
          i64.add
          global.set 1
          return
        end
        global.get 0
        i64.const 8
        i64.lt_u
        if ;; label = @3
          call 0
        end
        global.get 0
        i64.const 8
        i64.sub
        global.set 0
        i32.const 20
        global.set $out
        local.get 0
        i32.const 7
        i32.eq
        br_if 1 (;@1;)
        global.get 0
        i64.const 3
        i64.lt_u
        if ;; label = @3
          call 0
        end
        global.get 0
        i64.const 3
        i64.sub
        global.set 0
        i32.const 21
        global.set $out
      end
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
      i32.const 10
      global.set $out
    end
    global.get 1
    i64.const 76
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
    block (result i32) ;; label = @1
      global.get 0
      i64.const 4
      i64.lt_u
      if ;; label = @2
        call 0
      end
      global.get 0
      i64.const 4
      i64.sub
      global.set 0
      i32.const 1
      local.get 0
      br_if 0 (;@1;)
      global.get 0
      i64.const 4
      i64.lt_u
      if ;; label = @2
        call 0
      end
      global.get 0
      i64.const 4
      i64.sub
      global.set 0
      drop
      i32.const 2
      br 0 (;@1;)
    end
    global.get 1
    i64.const 76
    i64.add
    global.set 1
  )
  (func (;4;) (type 2) (result i32)
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
    global.get $out
    global.get 1
    i64.const 68
    i64.add
    global.set 1
  )
)
