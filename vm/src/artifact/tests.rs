//! The code cache against damaged, foreign and concurrent files, and the
//! equivalence of a loaded module with a compiled one.

use std::path::Path;

use sha2::{Digest, Sha256};

use super::format::{self, Entry, FormatError};
use super::{Artifact, CacheKey, Cached, CodeCache};
use crate::{Engine, EngineConfig, Instance, Linker, Module, Outcome, Store, Value};

/// Loops, memory with data, a table with `call_indirect`, globals, an
/// element segment, traps and gas exhaustion: every part of the stored
/// structure is used by some call below.
const WAT: &str = r#"
(module
  (type $un (func (param i64) (result i64)))
  (memory 1 4)
  (data (i32.const 16) "detvm cache")
  (table 4 8 funcref)
  (elem (i32.const 1) $double $sum)
  (global $g (mut i64) (i64.const 7))
  (global $k i32 (i32.const 3))
  (func $double (type $un) (i64.mul (local.get 0) (i64.const 2)))
  (func $sum (type $un) (local $acc i64)
    (block $done
      (loop $next
        (br_if $done (i64.eqz (local.get 0)))
        (local.set $acc (i64.add (local.get $acc) (local.get 0)))
        (local.set 0 (i64.sub (local.get 0) (i64.const 1)))
        (br $next)))
    (local.get $acc))
  (func (export "indirect") (param i32 i64) (result i64)
    (call_indirect (type $un) (local.get 1) (local.get 0)))
  (func (export "data") (result i32) (i32.load8_u (i32.const 21)))
  (func (export "global") (result i64)
    (global.set $g (i64.add (global.get $g) (i64.extend_i32_u (global.get $k))))
    (global.get $g))
  (func (export "divide") (param i32 i32) (result i32)
    (i32.div_s (local.get 0) (local.get 1)))
  (func (export "floor") (param f64) (result f64) (f64.floor (local.get 0)))
  (func (export "trap") unreachable)
  (export "mem" (memory 0))
  (export "table" (table 0)))
"#;

fn wasm() -> Vec<u8> {
    wat::parse_str(WAT).expect("valid text")
}

fn engine() -> Engine {
    Engine::new(EngineConfig::default()).expect("engine")
}

fn key(engine: &Engine, wasm: &[u8]) -> CacheKey {
    CacheKey::new(engine, &Sha256::digest(wasm).into(), b"test context")
}

/// Every call of the test module, and what each gave: results (or trap)
/// and gas.
fn outcomes(engine: &Engine, module: &Module) -> Vec<Outcome> {
    let mut store = Store::new(engine, ());
    let linker = Linker::new(engine);
    let instance = Instance::new(&mut store, module, &linker).expect("instantiates");
    let calls: [(&str, Vec<Value>, u64); 10] = [
        ("indirect", vec![Value::I32(1), Value::I64(21)], 1_000),
        (
            "indirect",
            vec![Value::I32(2), Value::I64(1_000)],
            1_000_000,
        ),
        (
            "indirect",
            vec![Value::I32(2), Value::I64(1_000_000)],
            50_000,
        ),
        ("indirect", vec![Value::I32(0), Value::I64(1)], 1_000),
        ("data", vec![], 1_000),
        ("global", vec![], 1_000),
        ("divide", vec![Value::I32(7), Value::I32(0)], 1_000),
        ("divide", vec![Value::I32(i32::MIN), Value::I32(-1)], 1_000),
        ("floor", vec![Value::F64((-2.5f64).to_bits())], 1_000),
        ("trap", vec![], 1_000),
    ];
    calls
        .into_iter()
        .map(|(name, args, gas)| instance.call(&mut store, name, &args, gas).expect(name))
        .collect()
}

fn compiled(engine: &Engine) -> (Module, Artifact) {
    Module::new_with_artifact(engine, &wasm()).expect("compiles")
}

fn entry_path(cache: &CodeCache, key: &CacheKey) -> std::path::PathBuf {
    cache.dir().join(key.file_name())
}

fn stored_file(dir: &Path) -> (Engine, CacheKey, Vec<u8>) {
    let engine = engine();
    let cache = CodeCache::open(dir, 1 << 30);
    let (_, artifact) = compiled(&engine);
    let key = key(&engine, &wasm());
    cache.put_module(&key, &artifact);
    let bytes = std::fs::read(entry_path(&cache, &key)).expect("written");
    (engine, key, bytes)
}

/// Writes `bytes` as the entry for `key` and checks that it is a miss,
/// counted as damaged and deleted, and that the cache works afterwards.
fn assert_miss(dir: &Path, engine: &Engine, key: &CacheKey, bytes: &[u8]) {
    let cache = CodeCache::open(dir, 1 << 30);
    let path = entry_path(&cache, key);
    std::fs::write(&path, bytes).expect("write");
    assert!(cache.get(engine, key).is_none());
    let stats = cache.stats();
    assert_eq!((stats.misses, stats.damaged), (1, 1));
    assert!(!path.exists(), "a damaged entry is deleted");
    let (_, artifact) = compiled(engine);
    cache.put_module(key, &artifact);
    assert!(matches!(cache.get(engine, key), Some(Cached::Module(_))));
}

#[test]
fn a_loaded_module_is_the_compiled_one() {
    let engine = engine();
    let (fresh, artifact) = compiled(&engine);
    let bytes =
        format::encode(b"k", &Entry::Module(Box::new(artifact.inner.clone()))).expect("encodes");
    let Entry::Module(decoded) = format::decode(&bytes, b"k").expect("decodes") else {
        panic!("a module entry decodes as a module");
    };
    assert_eq!(
        *decoded, artifact.inner,
        "same code, relocations and structure"
    );
    let loaded = Module::from_artifact(&engine, &decoded).expect("loads");
    assert_eq!(outcomes(&engine, &fresh), outcomes(&engine, &loaded));
    assert_eq!(fresh.exports(), loaded.exports());
    assert_eq!(fresh.imports(), loaded.imports());
    assert_eq!(fresh.native_stack_needed(), loaded.native_stack_needed());
}

#[test]
fn a_hit_after_reopening_gives_the_same_outcomes() {
    let dir = tempfile::tempdir().expect("temp dir");
    let engine = engine();
    let (fresh, artifact) = compiled(&engine);
    let key = key(&engine, &wasm());
    CodeCache::open(dir.path(), 1 << 30).put_module(&key, &artifact);
    // A new engine, as after a restart: signature ids are its own.
    let engine = self::engine();
    let cache = CodeCache::open(dir.path(), 1 << 30);
    let Some(Cached::Module(loaded)) = cache.get(&engine, &key) else {
        panic!("hit expected");
    };
    let expected = outcomes(&fresh.engine().clone(), &fresh);
    assert_eq!(outcomes(&engine, &loaded), expected);
    assert!(expected.iter().any(|o| matches!(o, Outcome::Trap { .. })));
    assert_eq!(cache.stats().hits, 1);
}

#[test]
fn truncated_files_are_misses() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (engine, key, bytes) = stored_file(dir.path());
    let len = bytes.len();
    // Empty, inside the magic, the header, the key, the body, the
    // checksum, one byte short.
    for cut in [
        0,
        1,
        7,
        8,
        12,
        23,
        24,
        40,
        100,
        len / 2,
        len - 33,
        len - 32,
        len - 1,
    ] {
        let err = format::decode(&bytes[..cut], key.bytes()).expect_err("truncated");
        assert!(
            matches!(err, FormatError::Truncated { .. }),
            "cut at {cut}: {err}"
        );
        assert_miss(dir.path(), &engine, &key, &bytes[..cut]);
    }
}

#[test]
fn flipped_bytes_are_misses() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (engine, key, bytes) = stored_file(dir.path());
    let positions = (0..bytes.len())
        .step_by(bytes.len() / 40 + 1)
        .chain([bytes.len() - 1]);
    for at in positions {
        let mut damaged = bytes.clone();
        damaged[at] ^= 0x40;
        assert!(
            format::decode(&damaged, key.bytes()).is_err(),
            "flip at {at}"
        );
        assert_miss(dir.path(), &engine, &key, &damaged);
    }
}

/// `bytes` with its checksum recomputed, as a file written by a buggy or
/// other version would carry a valid one.
fn resealed(mut bytes: Vec<u8>) -> Vec<u8> {
    let body_end = bytes.len() - 32;
    let sum = Sha256::digest(&bytes[..body_end]);
    bytes[body_end..].copy_from_slice(&sum);
    bytes
}

#[test]
fn another_version_is_a_miss() {
    for version in [format::FORMAT_VERSION - 1, format::FORMAT_VERSION + 1] {
        let dir = tempfile::tempdir().expect("temp dir");
        let (engine, key, mut bytes) = stored_file(dir.path());
        bytes[8..12].copy_from_slice(&version.to_le_bytes());
        let bytes = resealed(bytes);
        assert_eq!(
            format::decode(&bytes, key.bytes()),
            Err(FormatError::Version(version))
        );
        assert_miss(dir.path(), &engine, &key, &bytes);
    }
}

/// Whether a stored module was instrumented is stored with it, not
/// guessed from its imports: a flag that disagrees with the engine, or
/// with the imports an instrumented module must have, is refused.
#[test]
fn the_instrumented_flag_is_stored_and_checked() {
    let engine = engine();
    let (_, artifact) = compiled(&engine);
    assert!(artifact.inner.source.env.instrumented);
    let round_trip = |inner: &crate::runtime::module::ModuleArtifact| {
        let bytes = format::encode(b"k", &Entry::Module(Box::new(inner.clone()))).expect("encodes");
        format::decode(&bytes, b"k")
    };

    let mut plain = artifact.inner.clone();
    plain.source.env.instrumented = false;
    let Ok(Entry::Module(decoded)) = round_trip(&plain) else {
        panic!("the flag is only stored");
    };
    assert!(!decoded.source.env.instrumented);
    assert!(matches!(
        Module::from_artifact(&engine, &decoded),
        Err(crate::Error::Internal(
            crate::InternalError::MeteringMismatch { metering: true }
        ))
    ));

    let mut without_imports = artifact.inner.clone();
    without_imports.source.env.imports.clear();
    assert!(matches!(
        round_trip(&without_imports),
        Err(FormatError::Malformed { .. })
    ));
}

#[test]
fn a_malformed_body_with_a_valid_checksum_is_a_miss() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (engine, key, bytes) = stored_file(dir.path());
    let body_start = 24 + 4 + key.bytes().len();
    // Every byte after the key in turn, resealed: the decoder must refuse
    // or give a module that loads; it must never crash.
    for at in (body_start..bytes.len() - 32).step_by(7) {
        let mut damaged = bytes.clone();
        damaged[at] = damaged[at].wrapping_add(0x81);
        let damaged = resealed(damaged);
        if let Ok(Entry::Module(artifact)) = format::decode(&damaged, key.bytes()) {
            // Some bytes are code or constants: a different but valid
            // artifact. Loading it must not fail unsafely either.
            let _ = Module::from_artifact(&engine, &artifact);
        }
    }
}

#[test]
fn another_key_is_a_miss() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (engine, key, bytes) = stored_file(dir.path());
    let other = CacheKey::new(&engine, &[9; 32], b"test context");
    assert_eq!(format::decode(&bytes, other.bytes()), Err(FormatError::Key));
    assert_miss(dir.path(), &engine, &other, &bytes);

    // Any part of the key changes the entry: the context, the engine's
    // configuration.
    let hash: [u8; 32] = Sha256::digest(wasm()).into();
    assert_ne!(key, CacheKey::new(&engine, &hash, b"other context"));
    let mut config = EngineConfig::default();
    config.schedule.call += 1;
    let repriced = Engine::new(config).expect("engine");
    let moved = CacheKey::new(&repriced, &hash, b"test context");
    assert_ne!(key, moved);
    let cache = CodeCache::open(dir.path(), 1 << 30);
    assert!(cache.get(&repriced, &moved).is_none());
}

#[test]
fn foreign_files_are_misses_and_left_alone() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (engine, key, _) = stored_file(dir.path());
    let foreign = dir.path().join("notes.txt");
    std::fs::write(&foreign, vec![b'x'; 4096]).expect("write");
    let mut garbage = b"\x7fELF".to_vec();
    garbage.resize(300, 0xAA);
    assert_eq!(
        format::decode(&garbage, key.bytes()),
        Err(FormatError::Magic)
    );
    assert_miss(dir.path(), &engine, &key, &garbage);
    // Eviction down to nothing still spares files that are not entries.
    drop(CodeCache::open(dir.path(), 1));
    assert!(foreign.exists());
}

#[test]
fn rejections_are_remembered() {
    let dir = tempfile::tempdir().expect("temp dir");
    let engine = engine();
    let key = CacheKey::new(&engine, &[1; 32], b"");
    CodeCache::open(dir.path(), 1 << 20).put_rejection(&key, "float", "f32.add at offset 40");
    let cache = CodeCache::open(dir.path(), 1 << 20);
    match cache.get(&engine, &key) {
        Some(Cached::Rejected { kind, reason }) => {
            assert_eq!(
                (kind.as_str(), reason.as_str()),
                ("float", "f32.add at offset 40")
            );
        }
        other => panic!("expected the rejection, got {other:?}"),
    }
}

#[test]
fn an_unusable_directory_degrades_to_compile_only() {
    let dir = tempfile::tempdir().expect("temp dir");
    // A regular file where the directory should be: creating, reading and
    // writing all fail, whoever runs the test.
    let blocked = dir.path().join("blocked");
    std::fs::write(&blocked, b"").expect("write");
    let cache = CodeCache::open(&blocked, 1 << 20);
    let engine = engine();
    let (module, artifact) = compiled(&engine);
    let key = key(&engine, &wasm());
    assert!(cache.get(&engine, &key).is_none());
    cache.put_module(&key, &artifact);
    assert!(cache.get(&engine, &key).is_none());
    let stats = cache.stats();
    assert!(stats.io_failures >= 2, "{stats:?}");
    assert_eq!(stats.writes, 0);
    // The module compiled without the cache is still usable.
    assert!(!outcomes(&engine, &module).is_empty());
}

#[test]
fn concurrent_writers_of_one_key_leave_one_valid_entry() {
    let dir = tempfile::tempdir().expect("temp dir");
    let engine = engine();
    let (_, artifact) = compiled(&engine);
    let key = key(&engine, &wasm());
    let cache = CodeCache::open(dir.path(), 1 << 30);
    std::thread::scope(|scope| {
        for _ in 0..8 {
            scope.spawn(|| {
                for _ in 0..4 {
                    cache.put_module(&key, &artifact);
                    // Readers racing the writers see a whole entry or none.
                    if let Some(cached) = cache.get(&engine, &key) {
                        assert!(matches!(cached, Cached::Module(_)));
                    }
                }
            });
        }
    });
    assert_eq!(cache.stats().damaged, 0);
    assert!(matches!(cache.get(&engine, &key), Some(Cached::Module(_))));
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .expect("list")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(names, [std::ffi::OsString::from(key.file_name())]);
}

#[test]
fn the_least_recently_used_entry_is_evicted() {
    let dir = tempfile::tempdir().expect("temp dir");
    let engine = engine();
    let keys: Vec<_> = (0u8..3)
        .map(|i| CacheKey::new(&engine, &[i; 32], b""))
        .collect();
    let (_, artifact) = compiled(&engine);
    let one = {
        let probe = CodeCache::open(dir.path().join("probe"), 1 << 30);
        probe.put_module(&keys[0], &artifact);
        probe.stats().bytes
    };
    // Room for two entries, not three.
    let cache = CodeCache::open(dir.path().join("lru"), one * 2 + one / 2);
    cache.put_module(&keys[0], &artifact);
    cache.put_module(&keys[1], &artifact);
    assert!(cache.get(&engine, &keys[0]).is_some());
    cache.put_module(&keys[2], &artifact);
    let stats = cache.stats();
    assert_eq!((stats.entries, stats.evictions), (2, 1));
    assert!(stats.bytes <= cache.max_bytes());
    assert!(
        cache.get(&engine, &keys[1]).is_none(),
        "least recently used"
    );
    assert!(cache.get(&engine, &keys[0]).is_some());
    assert!(cache.get(&engine, &keys[2]).is_some());
    // An entry larger than the whole bound is not written.
    let tiny = CodeCache::open(dir.path().join("tiny"), one / 2);
    tiny.put_module(&keys[0], &artifact);
    assert_eq!(tiny.stats().entries, 0);
}

/// aarch64's `bl` reaches 128 MiB either way, and a module inside the
/// contract limits can compile to a larger image there (`call_indirect`
/// after `call_indirect`: about 36 bytes of code per byte of Wasm, so
/// about 150 MiB for 4 MiB of Wasm). Direct calls therefore never use a
/// relative branch with that reach, so that a module that loads on one
/// architecture loads on every one (`docs/vm.md`, "Output").
#[test]
fn no_direct_call_depends_on_the_distance_between_functions() {
    let wasm = wat::parse_str(
        r#"(module
             (func $one (result i32) (i32.const 1))
             (func (export "two") (result i32) (i32.add (call $one) (call $one))))"#,
    )
    .expect("valid text");
    let engine = engine();
    let (module, artifact) = Module::new_with_artifact(&engine, &wasm).expect("compiles");
    let relocs = &artifact.inner.code.image.relocs;
    assert!(
        relocs
            .iter()
            .all(|r| r.kind != super::image::RelocKind::Arm64Call),
        "{relocs:?}"
    );
    let mut store = Store::new(&engine, ());
    let instance = Instance::new(&mut store, &module, &Linker::new(&engine)).expect("instantiates");
    let out = instance.call(&mut store, "two", &[], 1_000).expect("calls");
    assert_eq!(out.results(), Some(&[Value::I32(2)][..]));
}
