//! The JSON document of `json_prepare` and the typed records `json_parse`
//! reads it into.

use alloc::string::String;
use alloc::vec::Vec;

use serde::Deserialize;

use crate::{Rng, mix, mix_bytes};

/// The seed of the document's generator.
const SEED: u64 = 4;

/// The text appended to each record's name, in the JSON source: every
/// kind of escape the parser has to undo.
const NAME_TAILS: [&[u8]; 4] = [
    br#" \"quoted\""#,
    br#" back\\slash"#,
    br#" tab\t"#,
    br#" caf\u00e9"#,
];

/// The whole document.
#[derive(Deserialize)]
pub struct Document {
    version: u32,
    records: Vec<Record>,
}

/// One record.
#[derive(Deserialize)]
struct Record {
    id: u64,
    name: String,
    amount: i64,
    active: bool,
    tags: Vec<String>,
    scores: Vec<u32>,
    owner: Owner,
}

/// A record's owner.
#[derive(Deserialize)]
struct Owner {
    account: String,
    nonce: u32,
}

/// The document for `json_prepare(n)`: records are appended until the text
/// is at least `n` bytes long (so it exceeds `n` by less than one record,
/// under 300 bytes, plus the closing `]}`).
///
/// ```text
/// {"version":1,"records":[RECORD,RECORD,...]}
/// ```
///
/// Record `id` (0, 1, …) takes `r = rng.next()`, then more draws in order:
///
/// ```text
/// {"id":ID,"name":"user NUMBER TAIL","amount":AMOUNT,"active":BOOL,
///  "tags":["tX",...],"scores":[S,...],"owner":{"account":"HEX","nonce":NONCE}}
/// ```
///
/// (on one line, no spaces) with NUMBER = `(r >> 40) % 10000`, TAIL =
/// [`NAME_TAILS`]`[(r >> 8) & 3]`, AMOUNT = `(r as i64) >> 20`, BOOL =
/// `r & 1 == 1`, `(r >> 16) % 4` tags each `"t"` and `rng.next() % 100`,
/// then `(r >> 24) % 8` scores each `rng.next_u32()`, then HEX = the 16
/// lowercase hex digits of `rng.next()` and NONCE = `(r >> 32) % 1000`.
/// Numbers are in decimal without leading zeros.
pub fn generate(n: usize) -> Vec<u8> {
    let mut rng = Rng::new(SEED);
    let mut out = Vec::with_capacity(n.saturating_add(512));
    out.extend_from_slice(br#"{"version":1,"records":["#);
    let mut id = 0;
    while out.len() < n {
        if id > 0 {
            out.push(b',');
        }
        record(&mut out, id, &mut rng);
        id += 1;
    }
    out.extend_from_slice(b"]}");
    out
}

/// Appends record `id` (see [`generate`]).
fn record(out: &mut Vec<u8>, id: u64, rng: &mut Rng) {
    let r = rng.next();
    out.extend_from_slice(br#"{"id":"#);
    push_u64(out, id);
    out.extend_from_slice(br#","name":"user "#);
    push_u64(out, (r >> 40) % 10_000);
    out.extend_from_slice(NAME_TAILS[((r >> 8) & 3) as usize]);
    out.extend_from_slice(br#"","amount":"#);
    push_i64(out, (r as i64) >> 20);
    out.extend_from_slice(if r & 1 == 1 {
        br#","active":true"#.as_slice()
    } else {
        br#","active":false"#.as_slice()
    });
    out.extend_from_slice(br#","tags":["#);
    for t in 0..(r >> 16) % 4 {
        if t > 0 {
            out.push(b',');
        }
        out.extend_from_slice(br#""t"#);
        push_u64(out, rng.next() % 100);
        out.push(b'"');
    }
    out.extend_from_slice(br#"],"scores":["#);
    for s in 0..(r >> 24) % 8 {
        if s > 0 {
            out.push(b',');
        }
        push_u64(out, rng.next_u32().into());
    }
    out.extend_from_slice(br#"],"owner":{"account":""#);
    let account = rng.next();
    for shift in (0..16).rev() {
        out.push(b"0123456789abcdef"[((account >> (4 * shift)) & 15) as usize]);
    }
    out.extend_from_slice(br#"","nonce":"#);
    push_u64(out, (r >> 32) % 1000);
    out.extend_from_slice(b"}}");
}

/// Appends `v` in decimal.
fn push_u64(out: &mut Vec<u8>, mut v: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

/// Appends `v` in decimal, with a `-` if negative.
fn push_i64(out: &mut Vec<u8>, v: i64) {
    if v < 0 {
        out.push(b'-');
    }
    push_u64(out, v.unsigned_abs());
}

impl Document {
    /// The checksum `json_parse` returns: every value in document order,
    /// each string as its length and then its bytes (after unescaping).
    pub fn checksum(&self) -> u64 {
        let mut acc = mix(crate::FNV_OFFSET, self.version.into());
        for r in &self.records {
            acc = mix(acc, r.id);
            acc = mix_bytes(acc, r.name.as_bytes());
            acc = mix(acc, r.amount as u64);
            acc = mix(acc, r.active.into());
            acc = mix(acc, r.tags.len() as u64);
            for tag in &r.tags {
                acc = mix_bytes(acc, tag.as_bytes());
            }
            acc = mix(acc, r.scores.len() as u64);
            for &score in &r.scores {
                acc = mix(acc, score.into());
            }
            acc = mix_bytes(acc, r.owner.account.as_bytes());
            acc = mix(acc, r.owner.nonce.into());
        }
        acc
    }
}
