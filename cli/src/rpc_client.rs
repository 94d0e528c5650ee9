//! A blocking JSON-RPC client for the commands that talk to a node.

use jsonrpsee::core::client::ClientT;
use jsonrpsee::core::params::ArrayParams;
use jsonrpsee::http_client::HttpClientBuilder;
use serde_json::Value;

/// The node address when `--rpc` is not given.
pub const DEFAULT_RPC: &str = "http://127.0.0.1:8545";

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum RpcError {
    /// The node answered with a JSON-RPC error.
    #[error("{message} (code {code}{})", kind.as_deref().map(|k| format!(", {k}")).unwrap_or_default())]
    Node {
        /// The error code (`docs/rpc.md`).
        code: i32,
        /// Its message.
        message: String,
        /// `data.kind`, if any.
        kind: Option<String>,
    },
    /// The node could not be reached or answered nonsense.
    #[error("cannot reach the node at {url}: {message}")]
    Transport {
        /// The address.
        url: String,
        /// What went wrong.
        message: String,
    },
}

impl RpcError {
    /// A stable identifier for JSON output.
    pub fn kind(&self) -> String {
        match self {
            Self::Node { kind: Some(k), .. } => k.clone(),
            Self::Node { code, .. } => format!("rpc_{code}"),
            Self::Transport { .. } => "unreachable".into(),
        }
    }
}

/// Calls `method` with positional `params` on the node at `url`.
pub fn request(url: &str, method: &str, params: Vec<Value>) -> Result<Value, RpcError> {
    let transport = |message: String| RpcError::Transport {
        url: url.to_owned(),
        message,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| transport(e.to_string()))?;
    runtime.block_on(async {
        let client = HttpClientBuilder::default()
            .max_request_size(detvm_node::MAX_REQUEST_BYTES)
            .max_response_size(detvm_node::MAX_RESPONSE_BYTES)
            .build(url)
            .map_err(|e| transport(e.to_string()))?;
        let mut array = ArrayParams::new();
        for p in params {
            array.insert(p).map_err(|e| transport(e.to_string()))?;
        }
        client
            .request::<Value, _>(method, array)
            .await
            .map_err(|e| match e {
                jsonrpsee::core::ClientError::Call(obj) => RpcError::Node {
                    code: obj.code(),
                    message: obj.message().to_owned(),
                    kind: obj
                        .data()
                        .and_then(|d| serde_json::from_str::<Value>(d.get()).ok())
                        .and_then(|d| d["kind"].as_str().map(str::to_owned)),
                },
                other => transport(other.to_string()),
            })
    })
}
