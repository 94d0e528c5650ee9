//! The corpus against its reference digests (`golden.json`), and the
//! comparison that names what differs. `BLESS=1 cargo test -p
//! detvm-reproduce` rewrites the reference: only for a deliberate change
//! of semantics, gas or corpus (with a new corpus version), so the review
//! shows it.

use detvm_reproduce::{
    CORPUS_VERSION, Case, Options, Report, Section, compare, determinism, generated, reference, run,
};

const GOLDEN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/golden.json");

/// Runs `f` on a thread with the native stack the corpus needs.
fn big_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new()
        .stack_size(512 << 20)
        .spawn(f)
        .unwrap()
        .join()
        .unwrap()
}

#[test]
fn this_machine_computes_the_reference() {
    let report = big_stack(|| run(&Options::default())).expect("the corpus runs");
    assert!(report.is_complete());
    if std::env::var_os("BLESS").is_some() {
        let text = serde_json::to_string_pretty(&report.to_json()).unwrap();
        std::fs::write(GOLDEN, format!("{text}\n")).unwrap();
        return;
    }
    let reference = reference().expect("golden.json parses");
    assert_eq!(reference.version, CORPUS_VERSION);
    if let Some(difference) = compare(&report, &reference) {
        panic!("this machine differs from the reference: {difference}");
    }
    assert_eq!(report.digest(), reference.digest());
}

#[test]
fn both_translation_strategies_compute_the_same_determinism_section() {
    let (register, slot) = big_stack(|| {
        let register = determinism::cases(&determinism::engine(false).unwrap()).unwrap();
        let slot = determinism::cases(&determinism::engine(true).unwrap()).unwrap();
        (register, slot)
    });
    assert_eq!(register, slot);
    // A few outcomes the rules fix, so the corpus cannot silently lose them.
    let find = |prefix: &str| {
        register
            .iter()
            .find(|c| c.name.starts_with(prefix))
            .map(|c| c.transcript.clone())
            .unwrap_or_else(|| panic!("no case {prefix}"))
    };
    assert!(
        find("floats.f32.div(f32:0x00000000 f32:0x00000000)").starts_with("ok [f32:0x7fc00000]")
    );
    assert!(find("floats.f32.neg(f32:0xffa00001)").starts_with("ok [f32:0x7fa00001]"));
    assert_eq!(
        find("gas.spin() gas_limit=123457"),
        "trap out_of_gas gas=123457"
    );
    assert!(
        find("gas.recurse_forever(i32:0) gas_limit=1000000000").starts_with("trap stack_overflow")
    );
    assert!(find("stack.wide(i32:1000000)").starts_with("trap stack_overflow"));
    // Little-endian memory: byte 0 of a stored i64 is its lowest byte.
    assert!(find("endian.bytes_of_i64(").starts_with("ok [i32:264]"));
    // 0x7ffe unsigned minus 0x8001 signed (-32767).
    assert!(find("endian.i16_halves(").starts_with("ok [i32:65533]"));
    // Wrapped operands: only the low 32 bits address memory and tables.
    assert!(find("endian.fill_wrapped(i64:9223090561878065252 ").starts_with("ok [i32:342]"));
    assert!(find("endian.table_fill_wrapped(i64:9223090561878065153 ").starts_with("ok [i32:1]"));
}

#[test]
fn generated_modules_are_the_same_bytes_every_time() {
    let mut generated = 0;
    for seed in 0..40 {
        let a = generated::module_bytes(seed);
        assert_eq!(a, generated::module_bytes(seed));
        generated += usize::from(a.is_some());
    }
    assert!(
        generated >= 30,
        "the generator declines too often: {generated}/40"
    );
}

fn report() -> Report {
    let case = |name: &str, text: &str| Case::new(name, text);
    Report {
        version: CORPUS_VERSION,
        sections: vec![
            Section {
                name: "determinism".into(),
                cases: vec![case("a", "1"), case("b", "2"), case("c", "3")],
            },
            Section {
                name: "contracts".into(),
                cases: vec![case("x", "4")],
            },
        ],
    }
}

#[test]
fn compare_names_the_first_differing_section_and_case() {
    let expected = report();
    let mut ours = report();
    assert_eq!(compare(&ours, &expected), None);
    ours.sections[0].cases[1] = Case::new("b", "two");
    ours.sections[1].cases[0] = Case::new("x", "four");
    let d = compare(&ours, &expected).expect("a difference");
    assert_eq!(d.section, "determinism");
    assert_eq!(d.case.as_deref(), Some("b"));
    assert!(d.detail.contains("two"), "{d}");
    // A section left out is not a difference; a different version is.
    let mut partial = report();
    partial.sections.remove(0);
    assert_eq!(compare(&partial, &expected), None);
    let mut newer = report();
    newer.version += 1;
    assert_eq!(compare(&newer, &expected).unwrap().section, "corpus");
    // Extra or missing cases are named too.
    let mut longer = report();
    longer.sections[1].cases.push(Case::new("y", "5"));
    assert_eq!(
        compare(&longer, &expected).unwrap().case.as_deref(),
        Some("y")
    );
    let mut shorter = report();
    shorter.sections[0].cases.pop();
    let d = compare(&shorter, &expected).unwrap();
    assert_eq!((d.section.as_str(), d.case), ("determinism", None));
}

#[test]
fn reports_round_trip_through_json_and_tampering_is_refused() {
    let original = report();
    let text = original.to_json().to_string();
    let back = Report::from_json(&text).expect("parses");
    assert_eq!(back.digest(), original.digest());
    assert_eq!(compare(&original, &back), None);
    // A case digest changed without its section digest, or the other way.
    let tampered = text.replacen(
        &detvm_reproduce::hex(&original.sections[0].cases[0].digest),
        &"0".repeat(64),
        1,
    );
    assert!(Report::from_json(&tampered).is_err());
    for bad in ["", "{}", "[1]", "{\"corpus_version\": 1}", "not json"] {
        assert!(Report::from_json(bad).is_err(), "{bad}");
    }
}

#[test]
fn an_unknown_section_to_skip_is_an_error() {
    let options = Options {
        skip: vec!["everything".into()],
        ..Options::default()
    };
    assert!(run(&options).is_err());
}

#[test]
fn the_generated_section_exercises_the_engine() {
    let cases = big_stack(|| generated::cases(&generated::engine().unwrap())).unwrap();
    let text: String = cases.iter().map(|c| c.transcript.as_str()).collect();
    let count = |needle: &str| text.matches(needle).count();
    let (returned, out_of_gas) = (count("-> ok ["), count("-> trap out_of_gas"));
    let other_traps = count("-> trap ") - out_of_gas;
    let rejected = count("rejected ");
    eprintln!(
        "{} cases: {returned} calls returned, {out_of_gas} ran out of gas, {other_traps} other traps, {rejected} modules rejected, {} memories",
        cases.len(),
        count("memory ")
    );
    assert!(returned >= 1_500, "{returned} calls returned");
    assert!(out_of_gas >= 500, "{out_of_gas} calls ran out of gas");
    assert!(other_traps >= 500, "{other_traps} other traps");
    assert!(rejected <= cases.len() / 4, "{rejected} modules rejected");
    assert!(count("engine error") == 0, "{text}");
}
