(module
  (func (export "max") (param i32 i32) (result i32)
    local.get 0
    local.get 1
    i32.gt_s
    if (result i32)
      local.get 0
    else
      local.get 1
    end)
  (func (export "abs") (param i32) (result i32)
    local.get 0
    i32.const 0
    i32.lt_s
    if
      i32.const 0
      local.get 0
      i32.sub
      return
    end
    local.get 0))
