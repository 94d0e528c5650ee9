//! What the CLI tests share: running the real binary and reading its JSON.

#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

/// Runs `detvm` with `args` in the current directory.
pub fn detvm(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_detvm"))
        .args(args)
        .output()
        .expect("the detvm binary runs")
}

/// Runs `detvm` with `args` in `dir`.
pub fn detvm_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_detvm"))
        .current_dir(dir)
        .args(args)
        .output()
        .expect("the detvm binary runs")
}

/// The one JSON object a `--json` command prints on stdout.
pub fn json_of(output: &Output) -> Value {
    let stdout = String::from_utf8_lossy(&output.stdout);
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| {
        panic!(
            "stdout is not one JSON object ({e}): {stdout}\nstderr: {}",
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

/// Writes `contents` to `dir/name` and returns the path as a string.
pub fn write(dir: &Path, name: &str, contents: impl AsRef<[u8]>) -> String {
    let path = dir.join(name);
    std::fs::write(&path, contents).expect("temp file is writable");
    path.to_str().expect("temp paths are UTF-8").to_owned()
}

/// Encodes WebAssembly text to a binary module.
pub fn wasm(text: &str) -> Vec<u8> {
    wast::parser::parse::<wast::Wat>(&wast::parser::ParseBuffer::new(text).unwrap())
        .unwrap()
        .encode()
        .unwrap()
}

/// One JSON-RPC call to the node at `url`.
pub fn rpc(url: &str, method: &str, params: Vec<Value>) -> Result<Value, String> {
    use jsonrpsee::core::client::ClientT;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let client = jsonrpsee::http_client::HttpClientBuilder::default()
            .build(url)
            .map_err(|e| e.to_string())?;
        let mut p = jsonrpsee::core::params::ArrayParams::new();
        for v in params {
            p.insert(v).unwrap();
        }
        client
            .request::<Value, _>(method, p)
            .await
            .map_err(|e| e.to_string())
    })
}

/// Reads a started node's stdout up to the line with its RPC address and
/// returns the address (the node keeps running).
pub fn rpc_url_of(child: &mut std::process::Child) -> String {
    use std::io::{BufRead, BufReader};
    let stdout = child.stdout.take().expect("stdout is piped");
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("node output");
        if let Some(rest) = line.strip_prefix("RPC listening on ") {
            return rest.to_owned();
        }
    }
    panic!("the node ended without printing its address")
}
