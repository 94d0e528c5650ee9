(module
  (func (export "locals") (param i32) (result i64)
    (local i32 i64 f32 f64 funcref)
    (local i64 i64 i64)
    local.get 0
    local.set 1
    local.get 2))
