//! `detvm keys`: ed25519 key files.

use std::path::{Path, PathBuf};

use detvm_chain::{Keypair, parse_key_hex};
use detvm_host::hex;
use serde_json::{Value, json};

use crate::Status;
use crate::report::print_json;

/// Where key files live when `--dir` is not given.
pub const DEFAULT_KEYS_DIR: &str = ".detvm/keys";

/// Manage ed25519 keys. A key file is JSON: `account_id` (the implicit
/// account of the key: its public key in hex), `public_key` and
/// `secret_key` (the 32-byte seed, hex). Files are created readable by
/// their owner only.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: KeysCommand,
}

/// The `keys` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum KeysCommand {
    /// Make a new key from the system's randomness and save it.
    New {
        /// File name inside the keys directory (default: the first 16
        /// hex digits of the account id).
        #[arg(long)]
        name: Option<String>,
        #[command(flatten)]
        dir: DirArg,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Save an existing secret key (64 hex digits, e.g. a dev account's
    /// printed by `detvm node --dev`).
    Import {
        /// The secret key (the 32-byte seed) in hex.
        secret: String,
        /// File name inside the keys directory.
        #[arg(long)]
        name: String,
        #[command(flatten)]
        dir: DirArg,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// List the keys in the keys directory.
    List {
        #[command(flatten)]
        dir: DirArg,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show a key's account and public key (never the secret).
    Show {
        /// A key name in the keys directory, or a path to a key file.
        key: String,
        #[command(flatten)]
        dir: DirArg,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// The keys directory.
#[derive(Debug, Clone, clap::Args)]
pub struct DirArg {
    /// Keys directory.
    #[arg(long = "keys-dir", global = true, value_name = "DIR", default_value = DEFAULT_KEYS_DIR)]
    pub dir: PathBuf,
}

/// Why a key file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// Reading or writing failed.
    #[error("{path}: {message}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What failed.
        message: String,
    },
    /// The file is not a key file.
    #[error("{path} is not a key file: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

/// The JSON of a key file.
pub fn key_json(key: &Keypair) -> Value {
    json!({
        "account_id": key.implicit_id(),
        "public_key": hex(&key.public_key()),
        "secret_key": hex(&key.seed()),
    })
}

/// Resolves a key argument: a path to an existing file, or a name in `dir`.
pub fn key_path(key: &str, dir: &Path) -> PathBuf {
    let as_path = PathBuf::from(key);
    if as_path.is_file() {
        return as_path;
    }
    let name = key.strip_suffix(".json").unwrap_or(key);
    dir.join(format!("{name}.json"))
}

/// Reads a key file.
pub fn load(path: &Path) -> Result<Keypair, KeyError> {
    let text = std::fs::read_to_string(path).map_err(|e| KeyError::Io {
        path: path.to_owned(),
        message: e.to_string(),
    })?;
    let invalid = |message: &str| KeyError::Invalid {
        path: path.to_owned(),
        message: message.to_owned(),
    };
    let value: Value = serde_json::from_str(&text).map_err(|e| invalid(&e.to_string()))?;
    let seed = value["secret_key"]
        .as_str()
        .and_then(parse_key_hex)
        .ok_or_else(|| invalid("`secret_key` is not 64 hex digits"))?;
    let key = Keypair::from_seed(seed);
    if let Some(public) = value["public_key"].as_str()
        && parse_key_hex(public) != Some(key.public_key())
    {
        return Err(invalid("`public_key` is not the secret key's"));
    }
    Ok(key)
}

fn save(path: &Path, key: &Keypair) -> Result<(), KeyError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let io = |e: std::io::Error| KeyError::Io {
        path: path.to_owned(),
        message: e.to_string(),
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io)?;
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(io)?;
    let text = serde_json::to_string_pretty(&key_json(key)).unwrap_or_default();
    file.write_all(text.as_bytes()).map_err(io)?;
    file.sync_all().map_err(io)
}

fn fail(json: bool, kind: &str, message: &str, status: Status) -> Status {
    if json {
        print_json(&json!({ "error": { "kind": kind, "message": message } }));
    } else {
        eprintln!("error: {message}");
    }
    status
}

fn store(key: Keypair, name: Option<String>, dir: &DirArg, json: bool) -> Status {
    let id = key.implicit_id();
    let name = name.unwrap_or_else(|| id[..16].to_owned());
    let ok_name = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if !ok_name {
        return fail(
            json,
            "usage",
            &format!("`{name}` is not a key name (A-Z a-z 0-9 . _ -)"),
            Status::Usage,
        );
    }
    let path = dir.dir.join(format!("{name}.json"));
    if let Err(e) = save(&path, &key) {
        return fail(json, "io", &e.to_string(), Status::Usage);
    }
    if json {
        print_json(
            &json!({ "name": name, "file": path, "account_id": id, "public_key": hex(&key.public_key()) }),
        );
    } else {
        println!("{id}");
        eprintln!("saved {}", path.display());
    }
    Status::Success
}

/// Runs the command.
pub fn run(args: &Args) -> Status {
    match &args.command {
        KeysCommand::New { name, dir, json } => {
            let mut seed = [0u8; 32];
            if let Err(e) = getrandom::fill(&mut seed) {
                return fail(*json, "io", &format!("no randomness: {e}"), Status::Usage);
            }
            store(Keypair::from_seed(seed), name.clone(), dir, *json)
        }
        KeysCommand::Import {
            secret,
            name,
            dir,
            json,
        } => match parse_key_hex(secret.strip_prefix("0x").unwrap_or(secret)) {
            Some(seed) => store(Keypair::from_seed(seed), Some(name.clone()), dir, *json),
            None => fail(
                *json,
                "usage",
                "a secret key is 64 hex digits",
                Status::Usage,
            ),
        },
        KeysCommand::List { dir, json } => {
            let mut keys = Vec::new();
            if let Ok(entries) = std::fs::read_dir(&dir.dir) {
                let mut paths: Vec<PathBuf> = entries
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.extension().is_some_and(|e| e == "json"))
                    .collect();
                paths.sort();
                for path in paths {
                    let name = path
                        .file_stem()
                        .map(|s| s.to_string_lossy().into_owned())
                        .unwrap_or_default();
                    match load(&path) {
                        Ok(key) => {
                            keys.push(json!({ "name": name, "account_id": key.implicit_id() }))
                        }
                        Err(e) => keys.push(json!({ "name": name, "error": e.to_string() })),
                    }
                }
            }
            if *json {
                print_json(&json!({ "keys": keys }));
            } else {
                for k in &keys {
                    match k["account_id"].as_str() {
                        Some(id) => println!("{}\t{id}", k["name"].as_str().unwrap_or("")),
                        None => println!(
                            "{}\t(unreadable: {})",
                            k["name"].as_str().unwrap_or(""),
                            k["error"].as_str().unwrap_or("")
                        ),
                    }
                }
            }
            Status::Success
        }
        KeysCommand::Show { key, dir, json } => match load(&key_path(key, &dir.dir)) {
            Ok(k) => {
                if *json {
                    print_json(
                        &json!({ "account_id": k.implicit_id(), "public_key": hex(&k.public_key()) }),
                    );
                } else {
                    println!("account    {}", k.implicit_id());
                    println!("public key {}", hex(&k.public_key()));
                }
                Status::Success
            }
            Err(e) => fail(*json, "key", &e.to_string(), Status::Usage),
        },
    }
}
