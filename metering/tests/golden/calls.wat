(module
  (import "env" "log" (func $log (param i32)))
  (type $binop (func (param i32 i32) (result i32)))
  (table 2 funcref)
  (elem (i32.const 0) $add $sub)
  (func $add (type $binop) local.get 0 local.get 1 i32.add)
  (func $sub (type $binop) local.get 0 local.get 1 i32.sub)
  (func (export "apply") (param i32 i32 i32) (result i32)
    local.get 0
    call $log
    local.get 1
    local.get 2
    local.get 0
    call_indirect (type $binop)
    local.get 1
    local.get 2
    call $add
    i32.add))
