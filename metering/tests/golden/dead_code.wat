(module
  (func (export "dead") (param i32) (result i32)
    block
      local.get 0
      br_if 0
      i32.const 1
      return
      i32.const 2
      drop
      block
        i32.const 3
        drop
      end
    end
    unreachable
    i32.const 4
    drop))
