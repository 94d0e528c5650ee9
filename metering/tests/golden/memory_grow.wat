(module
  (memory 1 10)
  (func (export "grow") (param i32) (result i32)
    local.get 0
    memory.grow)
  (func (export "size") (result i32)
    memory.size))
