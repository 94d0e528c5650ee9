(module $named
  (import "env" "imported" (func $imported (param i32)))
  (global $total (mut i32) (i32.const 0))
  (func $helper (param $value i32) (local $twice i32)
    local.get $value
    local.get $value
    i32.add
    local.tee $twice
    global.set $total
    block $label
      local.get $twice
      call $imported
    end)
  (func $main (export "main")
    i32.const 21
    call $helper))
