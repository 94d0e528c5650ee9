//! Engine errors carry what went wrong with its values, and keep the
//! stable kinds JSON and RPC clients read.

use detvm_vm::*;

#[test]
fn a_frame_overhead_of_zero_is_a_config_error() {
    let mut config = EngineConfig::default();
    config.metering = true;
    config.stack.frame_overhead = 0;
    let err = Engine::new(config).unwrap_err();
    assert!(matches!(err, Error::Config(ConfigError::ZeroFrameOverhead)));
    assert_eq!(err.kind(), "config");
}

#[test]
fn a_stack_limit_beyond_i64_names_the_limit() {
    let mut config = EngineConfig::default();
    config.stack.limit = u64::MAX;
    let err = Engine::new(config).unwrap_err();
    assert!(matches!(
        err,
        Error::Config(ConfigError::StackLimitTooLarge { limit: u64::MAX })
    ));
    assert!(err.to_string().contains(&u64::MAX.to_string()));
}

#[test]
fn host_memory_access_out_of_bounds_gives_offset_length_and_size() {
    let engine = Engine::default();
    let mut store = Store::new(&engine, ());
    let memory = Memory::new(
        &mut store,
        MemoryType {
            minimum: 1,
            maximum: None,
        },
    )
    .unwrap();
    let mut buf = [0u8; 8];
    let err = memory.read(&store, 65_530, &mut buf).unwrap_err();
    assert_eq!(
        err.clone(),
        Error::Access(AccessError::MemoryReadOutOfBounds {
            offset: 65_530,
            len: 8,
            size: 65_536,
        })
    );
    assert_eq!(err.kind(), "access");
    assert!(err.to_string().starts_with("memory read out of bounds"));
    let err = memory.write(&mut store, u64::MAX, &buf).unwrap_err();
    assert!(matches!(
        err,
        Error::Access(AccessError::MemoryWriteOutOfBounds {
            offset: u64::MAX,
            ..
        })
    ));
}

#[test]
fn invalid_memory_limits_are_a_resource_error_with_the_limits() {
    let engine = Engine::default();
    let mut store = Store::new(&engine, ());
    let err = Memory::new(
        &mut store,
        MemoryType {
            minimum: 2,
            maximum: Some(1),
        },
    )
    .unwrap_err();
    assert_eq!(
        err,
        Error::Resource(ResourceError::InvalidMemoryLimits {
            minimum: 2,
            maximum: Some(1),
        })
    );
    assert_eq!(err.kind(), "resource");
}

#[test]
fn setting_an_immutable_global_or_the_wrong_type_is_an_access_error() {
    let engine = Engine::default();
    let mut store = Store::new(&engine, ());
    let constant = Global::new(
        &mut store,
        GlobalType {
            content: ValType::I32,
            mutable: false,
        },
        Value::I32(1),
    )
    .unwrap();
    assert_eq!(
        constant.set(&mut store, Value::I32(2)).unwrap_err(),
        Error::Access(AccessError::ImmutableGlobal)
    );
    let err = Global::new(
        &mut store,
        GlobalType {
            content: ValType::I32,
            mutable: true,
        },
        Value::I64(1),
    )
    .unwrap_err();
    assert_eq!(
        err,
        Error::Access(AccessError::GlobalTypeMismatch {
            expected: ValType::I32,
            actual: ValType::I64,
        })
    );
}
