(module
  (func $swap (export "swap") (param i32 i64) (result i64 i32)
    local.get 1
    local.get 0)
  (func (export "pair") (param i32) (result i32 i64)
    local.get 0
    i64.const 7
    block (param i32 i64) (result i32 i64)
      local.get 0
      br_if 1
      call $swap
      drop
      drop
      i32.const 3
      i64.const 9
    end))
