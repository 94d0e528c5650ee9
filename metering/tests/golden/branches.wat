(module
  (global $out (mut i32) (i32.const 0))
  (func (export "classify") (param i32)
    block $a
      block $b
        block $c
          local.get 0
          br_table $c $b $a 3
        end
        i32.const 30
        global.set $out
        return
      end
      i32.const 20
      global.set $out
      local.get 0
      i32.const 7
      i32.eq
      br_if 1
      i32.const 21
      global.set $out
    end
    i32.const 10
    global.set $out)
  (func (export "early") (param i32) (result i32)
    i32.const 1
    local.get 0
    br_if 0
    drop
    i32.const 2
    br 0)
  (func (export "out") (result i32) global.get $out))
