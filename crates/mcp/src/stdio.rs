//! MCP over stdio with an answer for every line. The SDK's stdio transport
//! skips a line that is not JSON; JSON-RPC asks for a parse error (-32700)
//! instead, so a client that sent one learns why nothing came. Lines pass
//! through here: JSON goes on to the server, anything else is answered
//! here, and one writer keeps stdout a sequence of whole lines.

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::sync::mpsc;

use super::server::RobotServer;

/// The longest request line taken, bytes (a code action is far shorter).
const MAX_LINE: usize = 16 << 20;

/// The JSON-RPC error for a line that is not JSON.
pub fn parse_error(why: &str) -> String {
    serde_json::json!({
        "jsonrpc": "2.0",
        "id": null,
        "error": {"code": -32700, "message": format!("Parse error: {why}; send one JSON-RPC message per line")}
    })
    .to_string()
}

/// Connects `input`/`output` (stdin/stdout) to a server transport: returns
/// the server's ends and runs the copying until `input` ends.
pub fn split<R, W>(input: R, output: W) -> (tokio::io::DuplexStream, tokio::io::DuplexStream)
where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let (mut to_server, server_in) = tokio::io::duplex(1 << 16);
    let (server_out, from_server) = tokio::io::duplex(1 << 16);
    let (errors, mut error_lines) = mpsc::unbounded_channel::<String>();
    tokio::spawn(async move {
        let mut lines = BufReader::new(input);
        let mut line = Vec::new();
        loop {
            line.clear();
            match lines.read_until(b'\n', &mut line).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
            let text = String::from_utf8_lossy(&line);
            let trimmed = text.trim();
            if trimmed.is_empty() {
                continue;
            }
            let why = if line.len() > MAX_LINE {
                Some(format!(
                    "the line is {} bytes, more than {MAX_LINE}",
                    line.len()
                ))
            } else {
                serde_json::from_str::<serde_json::Value>(trimmed)
                    .err()
                    .map(|e| e.to_string())
            };
            match why {
                Some(why) => {
                    let _ = errors.send(parse_error(&why));
                }
                None => {
                    if to_server.write_all(trimmed.as_bytes()).await.is_err()
                        || to_server.write_all(b"\n").await.is_err()
                    {
                        break;
                    }
                }
            }
        }
        // The server sees its input end and shuts down.
        drop(to_server);
    });
    tokio::spawn(async move {
        let mut output = output;
        let mut replies = BufReader::new(from_server).lines();
        loop {
            let line = tokio::select! {
                reply = replies.next_line() => match reply {
                    Ok(Some(line)) => line,
                    _ => break,
                },
                Some(error) = error_lines.recv() => error,
            };
            if output.write_all(line.as_bytes()).await.is_err()
                || output.write_all(b"\n").await.is_err()
                || output.flush().await.is_err()
            {
                break;
            }
        }
    });
    (server_in, server_out)
}

/// Why serving on stdio failed.
#[derive(Debug, thiserror::Error)]
pub enum StdioError {
    /// The client's initialisation failed.
    #[error("starting the MCP session on stdio: {0}")]
    Start(#[from] Box<rmcp::service::ServerInitializeError>),
    /// The session's task ended abnormally.
    #[error("serving MCP on stdio: {0}")]
    Serve(#[from] tokio::task::JoinError),
}

/// Serves `server` on this process's stdin and stdout, on `runtime`, until
/// the client leaves.
///
/// Blocking and never inlined, so that the SDK's generic service is built
/// in this crate, not again in every program that serves.
#[inline(never)]
pub fn serve(runtime: &tokio::runtime::Runtime, server: RobotServer) -> Result<(), StdioError> {
    use rmcp::ServiceExt;
    runtime.block_on(async move {
        let lines = split(tokio::io::stdin(), tokio::io::stdout());
        let running = server.serve(lines).await.map_err(Box::new)?;
        running.waiting().await?;
        Ok(())
    })
}
