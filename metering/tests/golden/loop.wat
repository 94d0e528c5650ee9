(module
  (func (export "sum") (param $n i32) (result i32) (local $acc i32)
    block $exit
      loop $continue
        local.get $n
        i32.eqz
        br_if $exit
        local.get $acc
        local.get $n
        i32.add
        local.set $acc
        local.get $n
        i32.const 1
        i32.sub
        local.set $n
        br $continue
      end
    end
    local.get $acc))
