//! `detvm reproduce`: the built-in corpus against the reference digests,
//! `--expect` and `--expect-file`, and bad arguments.

mod common;

use common::json_of;
use detvm_reproduce::{Case, reference};

fn detvm(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_detvm"))
        .args(args)
        .output()
        .expect("the detvm binary runs")
}

#[test]
fn a_full_run_matches_the_reference_and_expect_checks_the_digest() {
    let reference = reference().expect("the reference parses");
    let digest = detvm_reproduce::hex(&reference.digest());
    let out = detvm(&["reproduce"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains(&format!("digest {digest}")), "{text}");
    for section in ["spec", "determinism", "generated", "contracts"] {
        assert!(text.contains(&format!("  {section}")), "{text}");
    }
    let expected = detvm(&["reproduce", "--expect", &digest]);
    assert_eq!(expected.status.code(), Some(0));
    // Another digest: exit 1, saying this machine matches the reference.
    let other = "ab".repeat(32);
    let wrong = detvm(&["reproduce", "--expect", &other, "--json"]);
    assert_eq!(wrong.status.code(), Some(1));
    let json = json_of(&wrong);
    assert_eq!(json["same"], false);
    let detail = json["difference"]["detail"].as_str().unwrap();
    assert!(detail.contains("matches the reference"), "{detail}");
}

#[test]
fn expect_file_names_the_first_differing_section_and_case() {
    // Another machine's report that differs in one contract call.
    let mut theirs = reference().unwrap();
    let contracts = theirs
        .sections
        .iter_mut()
        .find(|s| s.name == "contracts")
        .unwrap();
    let victim = contracts.cases[5].name.clone();
    contracts.cases[5] = Case::new(victim.clone(), "something else");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("theirs.json");
    std::fs::write(&file, theirs.to_json().to_string()).unwrap();
    let out = detvm(&[
        "reproduce",
        "--skip",
        "spec",
        "--expect-file",
        file.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let json = json_of(&out);
    assert_eq!(json["difference"]["section"], "contracts");
    assert_eq!(json["difference"]["case"], victim.as_str());
    assert_eq!(json["complete"], false);
    // The text form says the same.
    let text = detvm(&[
        "reproduce",
        "--skip",
        "spec",
        "--expect-file",
        file.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&text.stdout);
    assert!(
        stdout.contains(&format!("section contracts, case {victim}")),
        "{stdout}"
    );
}

#[test]
fn bad_arguments_exit_2_with_a_message() {
    let dir = tempfile::tempdir().unwrap();
    let garbage = dir.path().join("garbage.json");
    std::fs::write(&garbage, "{\"corpus_version\": 1, \"sections\": 5}").unwrap();
    let cases: [&[&str]; 5] = [
        &["reproduce", "--skip", "everything"],
        &["reproduce", "--expect", "xyz"],
        &["reproduce", "--skip", "spec", "--expect", &"00".repeat(32)],
        &["reproduce", "--expect-file", "/nonexistent/report.json"],
        &[
            "reproduce",
            "--skip",
            "spec",
            "--expect-file",
            garbage.to_str().unwrap(),
        ],
    ];
    for args in cases {
        let out = detvm(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("error"),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let missing = detvm(&["reproduce", "--state", "/nonexistent", "--skip", "spec"]);
    assert_eq!(missing.status.code(), Some(2));
    let help = detvm(&["reproduce", "--help"]);
    assert!(String::from_utf8_lossy(&help.stdout).contains("--expect-file"));
}
