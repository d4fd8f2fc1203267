//! LLM endpoints: OpenAI-compatible Chat Completions (OpenAI, vLLM, Ollama,
//! llama.cpp server, LM Studio, OpenRouter) and Anthropic Messages, both
//! streamed. Retries with backoff and jitter on 429, 5xx and connection
//! errors, honouring Retry-After; a timeout on every network operation.

mod anthropic;
mod openai;
pub mod scripted;
mod sse;

use std::fmt;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::images::Image;

/// Who said a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The person or the loop (task, observations).
    User,
    /// The model.
    Assistant,
}

/// One message of the conversation (the system prompt is separate).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Message {
    /// Who said it.
    pub role: Role,
    /// What was said.
    pub content: String,
    /// Tools the assistant called (native tool calling).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall>,
    /// Results of those calls, sent back in a user message.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tool_results: Vec<ToolResult>,
    /// Pictures that go with the message (observations of vision models).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<Image>,
}

impl Message {
    /// A user message.
    pub fn user(content: impl Into<String>) -> Self {
        Message {
            role: Role::User,
            content: content.into(),
            tool_calls: Vec::new(),
            tool_results: Vec::new(),
            images: Vec::new(),
        }
    }
    /// An assistant message.
    pub fn assistant(content: impl Into<String>) -> Self {
        Message {
            role: Role::Assistant,
            content: content.into(),
            tool_calls: Vec::new(),
            tool_results: Vec::new(),
            images: Vec::new(),
        }
    }
}

/// A tool the model may call: a skill, with a JSON schema of its parameters.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ToolSpec {
    /// The skill's name.
    pub name: String,
    /// Its docstring.
    pub description: String,
    /// JSON schema of the arguments (an object).
    pub parameters: serde_json::Value,
}

/// A tool call in a reply.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct ToolCall {
    /// The endpoint's id for the call; results refer to it.
    pub id: String,
    /// The tool's name.
    pub name: String,
    /// The arguments (a JSON object; whatever the model sent, unchecked).
    pub arguments: serde_json::Value,
}

/// The result of a tool call.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ToolResult {
    /// The call's id.
    pub id: String,
    /// The observation text.
    pub content: String,
}

/// Tokens one request used, as the endpoint reported them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Usage {
    /// Prompt tokens.
    pub input_tokens: u64,
    /// Completion tokens.
    pub output_tokens: u64,
}

impl Usage {
    /// Both together.
    pub fn total(&self) -> u64 {
        self.input_tokens + self.output_tokens
    }
}

/// A finished reply.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Completion {
    /// The reply text.
    pub text: String,
    /// Tool calls in the reply (only when tools were offered).
    pub tool_calls: Vec<ToolCall>,
    /// Tokens used by the successful attempt.
    pub usage: Usage,
    /// Requests made (1 without retries).
    pub attempts: u32,
    /// Time from the first request to the end of the reply, milliseconds.
    pub latency_ms: f64,
}

/// An API key: never printed, logged or written to a transcript.
#[derive(Clone, Default)]
pub struct Secret(String);

impl Secret {
    /// Wraps a key.
    pub fn new(key: impl Into<String>) -> Self {
        Secret(key.into())
    }
    fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Which wire format an endpoint speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    /// OpenAI-compatible Chat Completions.
    OpenAi,
    /// Anthropic Messages.
    Anthropic,
}

/// How to reach a model.
#[derive(Debug, Clone)]
pub struct LlmConfig {
    /// Wire format.
    pub provider: Provider,
    /// Model name as the endpoint knows it.
    pub model: String,
    /// Base URL (`https://api.openai.com/v1`, `http://localhost:11434/v1`).
    pub base_url: String,
    /// Key, if the endpoint needs one.
    pub api_key: Option<Secret>,
    /// Limit on each network operation (connect, each read of the stream).
    pub timeout: Duration,
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// First backoff; it doubles per retry, with jitter, up to 30 s.
    pub backoff: Duration,
    /// Reply length limit, tokens.
    pub max_tokens: u32,
    /// Sampling temperature.
    pub temperature: f64,
}

impl LlmConfig {
    /// A configuration from `provider:model`, with the provider's usual
    /// environment (`OPENAI_API_KEY`, `OPENAI_BASE_URL`, `ANTHROPIC_API_KEY`,
    /// `ANTHROPIC_BASE_URL`) and defaults.
    pub fn from_spec(spec: &str, base_url: Option<&str>) -> Result<Self, LlmError> {
        let (provider, model) = spec.split_once(':').ok_or_else(|| LlmError::Config(format!(
            "--llm takes provider:model, e.g. openai:gpt-4o-mini or anthropic:claude-sonnet-4-5; got {spec:?}"
        )))?;
        let (provider, key_var, url_var, default_url) = match provider {
            "openai" => (Provider::OpenAi, "OPENAI_API_KEY", "OPENAI_BASE_URL", "https://api.openai.com/v1"),
            "anthropic" => (Provider::Anthropic, "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", "https://api.anthropic.com"),
            other => {
                return Err(LlmError::Config(format!(
                    "unknown provider {other:?}: use openai (any OpenAI-compatible server: vLLM, Ollama, llama.cpp, LM Studio, OpenRouter) or anthropic"
                )))
            }
        };
        if model.trim().is_empty() {
            return Err(LlmError::Config(format!("--llm {spec:?} names no model")));
        }
        let base_url = base_url
            .map(str::to_owned)
            .or_else(|| std::env::var(url_var).ok().filter(|v| !v.is_empty()))
            .unwrap_or_else(|| default_url.to_owned());
        let api_key = std::env::var(key_var)
            .ok()
            .filter(|k| !k.is_empty())
            .map(Secret::new);
        if api_key.is_none() && base_url == default_url {
            return Err(LlmError::Config(format!(
                "{spec} needs an API key: set {key_var} (or point {url_var} / --base-url at a local server that needs none)"
            )));
        }
        Ok(LlmConfig {
            provider,
            model: model.to_owned(),
            base_url: base_url.trim_end_matches('/').to_owned(),
            api_key,
            timeout: Duration::from_secs(60),
            max_retries: 4,
            backoff: Duration::from_secs(1),
            max_tokens: 2048,
            temperature: 0.2,
        })
    }
}

/// Why a request failed for good.
#[derive(Debug, thiserror::Error)]
pub enum LlmError {
    /// Bad configuration.
    #[error("{0}")]
    Config(String),
    /// The endpoint answered with an error status that retrying will not fix.
    #[error("the endpoint answered {status}: {body}")]
    Status {
        /// HTTP status.
        status: u16,
        /// The start of the error body.
        body: String,
    },
    /// Still failing after every retry.
    #[error("no answer after {attempts} attempts; the last failure: {last}")]
    Exhausted {
        /// Requests made.
        attempts: u32,
        /// What went wrong the last time.
        last: String,
    },
    /// The reply could not be understood.
    #[error("the endpoint sent a reply that could not be read: {0}")]
    Malformed(String),
    /// Nothing answers at the endpoint's address, and trying again soon will not change that.
    #[error("cannot reach the LLM endpoint {url}: {why}. {hint}")]
    Unreachable {
        /// The URL requested.
        url: String,
        /// What failed, in words ("connection refused").
        why: String,
        /// What to do about it.
        hint: String,
    },
}

impl LlmError {
    /// Why no model could be asked at all, when that is what happened: the
    /// endpoint is unreachable or keeps failing (an outage), refuses the
    /// credentials, has no such model, or the account's quota is spent.
    /// `None` for a failure that says something about the model's replies.
    /// A trial that ends this way was not run; it is not a failure.
    pub fn unavailable(&self) -> Option<String> {
        match self {
            LlmError::Config(why) => Some(format!("the model is not configured: {why}")),
            LlmError::Unreachable { .. } | LlmError::Exhausted { .. } => Some(self.to_string()),
            LlmError::Status { status, body } => {
                let lower = body.to_lowercase();
                let what = match status {
                    401 | 403 => "the endpoint refused the credentials",
                    402 => "the account's quota or credit is spent",
                    404 => "the endpoint has no such model (or path)",
                    _ if lower.contains("insufficient_quota") || lower.contains("quota") => {
                        "the account's quota is spent"
                    }
                    _ if lower.contains("model_not_found")
                        || (lower.contains("model") && lower.contains("does not exist")) =>
                    {
                        "the endpoint has no such model"
                    }
                    _ => return None,
                };
                Some(format!("{what} ({status}: {body})"))
            }
            LlmError::Malformed(_) => None,
        }
    }
}

/// What one successful attempt produced.
#[derive(Debug, Default)]
struct Reply {
    text: String,
    tool_calls: Vec<ToolCall>,
    usage: Usage,
}

/// How a streamed attempt ended, as a retry reason when it did not end
/// well: a garbled event, a broken connection, or no end marker.
fn stream_end(
    read: std::io::Result<()>,
    garbled: Option<String>,
    ended: bool,
    end_marker: &str,
    received: usize,
) -> Result<(), AttemptError> {
    let why = if let Some(why) = garbled {
        // A garbled stream is usually a glitch on the way: worth another try.
        LlmError::Malformed(why).to_string()
    } else if let Err(e) = read {
        format!("the stream broke off after {received} characters: {e}")
    } else if !ended {
        format!("the stream ended without {end_marker} after {received} characters")
    } else {
        return Ok(());
    };
    Err(AttemptError::Retry { why, after: None })
}

/// What one attempt can end with, besides a completion.
#[derive(Debug)]
enum AttemptError {
    /// Worth another try (429, 5xx, connection, timeout, a cut stream), maybe after a given wait.
    Retry {
        why: String,
        after: Option<Duration>,
    },
    /// Not worth another try.
    Fatal(LlmError),
}

/// Something that answers a conversation: an endpoint ([`Llm`]), or the
/// recorded replies of an earlier run (replay).
pub trait Model {
    /// `provider:model`, for display and transcripts.
    fn name(&self) -> String;
    /// The reply to the conversation, streamed to `on_text`; `on_retry`
    /// hears about failed attempts that are tried again.
    fn complete(
        &self,
        system: &str,
        messages: &[Message],
        tools: &[ToolSpec],
        on_text: &mut dyn FnMut(&str),
        on_retry: &mut dyn FnMut(&str, Duration),
    ) -> Result<Completion, LlmError>;
}

impl Model for Llm {
    /// `provider:model`, for display.
    fn name(&self) -> String {
        let p = match self.config.provider {
            Provider::OpenAi => "openai",
            Provider::Anthropic => "anthropic",
        };
        format!("{p}:{}", self.config.model)
    }

    /// Sends the conversation and streams the reply to `on_text` as it
    /// arrives. Retries what is worth retrying; `on_retry` hears why and how
    /// long it waits (text already streamed by a failed attempt is repeated).
    fn complete(
        &self,
        system: &str,
        messages: &[Message],
        tools: &[ToolSpec],
        on_text: &mut dyn FnMut(&str),
        on_retry: &mut dyn FnMut(&str, Duration),
    ) -> Result<Completion, LlmError> {
        let started = Instant::now();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let result = match self.config.provider {
                Provider::OpenAi => openai::attempt(self, system, messages, tools, on_text),
                Provider::Anthropic => anthropic::attempt(self, system, messages, tools, on_text),
            };
            match result {
                Ok(reply) => {
                    return Ok(Completion {
                        text: reply.text,
                        tool_calls: reply.tool_calls,
                        usage: reply.usage,
                        attempts: attempt,
                        latency_ms: started.elapsed().as_secs_f64() * 1e3,
                    });
                }
                Err(AttemptError::Fatal(e)) => return Err(e),
                Err(AttemptError::Retry { why, after }) => {
                    if attempt > self.config.max_retries {
                        return Err(LlmError::Exhausted {
                            attempts: attempt,
                            last: why,
                        });
                    }
                    let wait = after
                        .unwrap_or_else(|| backoff(self.config.backoff, attempt))
                        .min(Duration::from_secs(120));
                    on_retry(&why, wait);
                    std::thread::sleep(wait);
                }
            }
        }
    }
}

/// A chat model behind an HTTP endpoint.
pub struct Llm {
    config: LlmConfig,
    http: reqwest::blocking::Client,
}

impl fmt::Debug for Llm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Llm")
            .field("provider", &self.config.provider)
            .field("model", &self.config.model)
            .field("base_url", &self.config.base_url)
            .finish()
    }
}

impl Llm {
    /// A client for `config`.
    pub fn new(config: LlmConfig) -> Result<Self, LlmError> {
        // reqwest is built without a default TLS provider; ring is ours.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut builder = reqwest::blocking::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            .user_agent(concat!("codeact/", env!("CARGO_PKG_VERSION")));
        let host = reqwest::Url::parse(&config.base_url)
            .map_err(|e| LlmError::Config(format!("bad base URL {:?}: {e}", config.base_url)))?
            .host_str()
            .unwrap_or_default()
            .to_owned();
        if host == "localhost" || host.starts_with("127.") || host == "[::1]" {
            // A local server is never reached through a proxy.
            builder = builder.no_proxy();
        }
        let http = builder
            .build()
            .map_err(|e| LlmError::Config(format!("cannot build the HTTP client: {e}")))?;
        Ok(Llm { config, http })
    }

    /// The configuration.
    pub fn config(&self) -> &LlmConfig {
        &self.config
    }

    fn post(
        &self,
        url: &str,
        body: &serde_json::Value,
        headers: &[(&str, String)],
    ) -> Result<reqwest::blocking::Response, AttemptError> {
        let mut request = self.http.post(url).json(body);
        for (k, v) in headers {
            request = request.header(*k, v);
        }
        let response = request.send().map_err(|e| send_error(url, &e))?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|s| *s >= 0.0 && s.is_finite())
            .map(Duration::from_secs_f64);
        let body: String = response
            .text()
            .unwrap_or_default()
            .chars()
            .take(500)
            .collect();
        if status.as_u16() == 429 || status.is_server_error() {
            Err(AttemptError::Retry {
                why: format!("HTTP {status}: {body}"),
                after,
            })
        } else {
            Err(AttemptError::Fatal(LlmError::Status {
                status: status.as_u16(),
                body,
            }))
        }
    }
}

/// Exponential backoff with full jitter: uniform in [base/2, base * 2^(n-1)], capped at 30 s.
fn backoff(base: Duration, attempt: u32) -> Duration {
    let ceiling = base.as_secs_f64() * 2f64.powi(attempt.saturating_sub(1).min(10) as i32);
    let ceiling = ceiling.min(30.0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let u = (nanos as f64 / 1e9).fract();
    Duration::from_secs_f64((ceiling / 2.0) + u * (ceiling / 2.0))
}

/// Why sending a request failed, as a retry or, when retrying cannot help
/// (nothing listens there, the name does not resolve, TLS fails), for good.
fn send_error(url: &str, e: &reqwest::Error) -> AttemptError {
    if e.is_timeout() {
        return AttemptError::Retry {
            why: "the request timed out".into(),
            after: None,
        };
    }
    let causes = error_chain(e);
    let refused = causes.iter().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::ConnectionRefused)
    }) || causes
        .iter()
        .any(|c| c.to_string().contains("Connection refused"));
    let text: Vec<String> = causes.iter().map(|c| c.to_string()).collect();
    let unreachable = |why: &str, hint: &str| {
        AttemptError::Fatal(LlmError::Unreachable {
            url: url.to_owned(),
            why: why.to_owned(),
            hint: hint.to_owned(),
        })
    };
    if refused {
        return unreachable(
            "connection refused (nothing is listening at that address)",
            "Start the model server, or point --base-url (or OPENAI_BASE_URL / ANTHROPIC_BASE_URL) at one that runs",
        );
    }
    if text
        .iter()
        .any(|t| t.contains("dns error") || t.contains("failed to lookup address"))
    {
        return unreachable(
            "its host name does not resolve",
            "Check the host in --base-url (or OPENAI_BASE_URL / ANTHROPIC_BASE_URL)",
        );
    }
    if text
        .iter()
        .any(|t| t.contains("certificate") || t.contains("tls") || t.contains("TLS"))
    {
        return unreachable(
            &format!(
                "the TLS handshake failed ({})",
                text.last().map_or("", String::as_str)
            ),
            "Use http:// for a local server without TLS, or fix the server's certificate",
        );
    }
    AttemptError::Retry {
        why: format!(
            "{}: {}",
            if e.is_connect() {
                "cannot connect"
            } else {
                "the request failed"
            },
            text.last().map_or_else(|| e.to_string(), Clone::clone)
        ),
        after: None,
    }
}

/// An error and its sources, outermost first.
fn error_chain<'a>(
    e: &'a (dyn std::error::Error + 'static),
) -> Vec<&'a (dyn std::error::Error + 'static)> {
    let mut out = vec![e];
    while let Some(next) = out.last().and_then(|c| c.source()) {
        out.push(next);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spec_needs_a_provider_a_model_and_a_key_for_hosted_apis() {
        assert!(LlmConfig::from_spec("gpt-4o", None).is_err());
        assert!(LlmConfig::from_spec("mistral:x", None).is_err());
        assert!(LlmConfig::from_spec("openai:", None).is_err());
        let local =
            LlmConfig::from_spec("openai:llama3", Some("http://127.0.0.1:11434/v1/")).unwrap();
        assert_eq!(local.base_url, "http://127.0.0.1:11434/v1");
        assert_eq!(format!("{:?}", Secret::new("sk-123")), "Secret(***)");
    }

    #[test]
    fn backoff_grows_and_stays_capped() {
        let b = Duration::from_millis(100);
        assert!(backoff(b, 1) <= Duration::from_millis(100));
        assert!(backoff(b, 4) >= Duration::from_millis(400));
        assert!(backoff(b, 30) <= Duration::from_secs(30));
    }
}

/// What the wire-format tests of both clients share: a conversation with a
/// tool call, its result and a picture, and a way to read a stream's
/// outcome.
#[cfg(test)]
mod wire_tests {
    use super::*;

    /// A config for `provider` (no key: the body is what is tested).
    pub fn config(provider: Provider) -> LlmConfig {
        LlmConfig {
            provider,
            model: "m-1".into(),
            base_url: "http://127.0.0.1:9".into(),
            api_key: None,
            timeout: Duration::from_secs(1),
            max_retries: 0,
            backoff: Duration::from_millis(1),
            max_tokens: 321,
            temperature: 0.25,
        }
    }

    /// Task; the model calls `move_to` with a line of text; its result comes
    /// back with a picture.
    pub fn conversation() -> Vec<Message> {
        let mut call = Message::assistant("Going.");
        call.tool_calls.push(ToolCall {
            id: "c1".into(),
            name: "move_to".into(),
            arguments: serde_json::json!({"x": 1.0, "y": 2.0}),
        });
        let mut result = Message::user("");
        result.tool_results.push(ToolResult {
            id: "c1".into(),
            content: "pose (1.0, 2.0)".into(),
        });
        result.images.push(crate::images::Image {
            mime: codeact_executor::observation::ImageType::Png,
            caption: None,
            width: 1,
            height: 1,
            file: None,
            data: std::sync::Arc::from(&b"\x89PNG"[..]),
        });
        vec![Message::user("Go to (1, 2)."), call, result]
    }

    /// The one tool offered.
    pub fn tools() -> Vec<ToolSpec> {
        vec![ToolSpec {
            name: "move_to".into(),
            description: "Drive there.".into(),
            parameters: serde_json::json!({"type": "object", "properties": {"x": {"type": "number"}}}),
        }]
    }

    /// Server-sent events of `data` lines.
    pub fn sse(events: &[&str]) -> std::io::Cursor<Vec<u8>> {
        let text: String = events.iter().map(|e| format!("data: {e}\n\n")).collect();
        std::io::Cursor::new(text.into_bytes())
    }

    /// Why an attempt is to be retried (panics on anything else).
    pub fn retry_reason(outcome: Result<Reply, AttemptError>) -> String {
        match outcome {
            Err(AttemptError::Retry { why, .. }) => why,
            other => panic!("expected a retry, got {other:?}"),
        }
    }
}
