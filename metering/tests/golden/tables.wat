(module
  (table $t 1 funcref)
  (table $e 0 externref)
  (elem $seg func $f)
  (func $f)
  (func (export "ops") (param externref) (result i32)
    ref.null func
    i32.const 2
    table.grow $t
    drop
    i32.const 0
    ref.func $f
    i32.const 1
    table.fill $t
    i32.const 0
    i32.const 0
    i32.const 1
    table.copy $t $t
    i32.const 0
    i32.const 0
    i32.const 1
    table.init $t $seg
    elem.drop $seg
    local.get 0
    i32.const 1
    table.grow $e
    drop
    i32.const 0
    table.get $t
    ref.is_null
    table.size $t
    i32.add))
