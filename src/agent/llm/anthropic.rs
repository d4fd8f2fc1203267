//! Anthropic Messages, streamed (`stream: true`).

use std::io::BufReader;

use serde_json::{json, Value as Json};

use super::sse::for_each_event;
use super::{AttemptError, Llm, LlmError, Message, Usage};

/// The API version this client speaks.
const VERSION: &str = "2023-06-01";

/// One streamed request. Returns the text and usage, or why it failed.
pub(super) fn attempt(
    llm: &Llm,
    system: &str,
    messages: &[Message],
    on_text: &mut dyn FnMut(&str),
) -> Result<(String, Usage), AttemptError> {
    let c = &llm.config;
    let body = json!({
        "model": c.model,
        "system": system,
        "messages": messages.iter().map(|m| json!({"role": m.role, "content": m.content})).collect::<Vec<_>>(),
        "stream": true,
        "max_tokens": c.max_tokens,
        "temperature": c.temperature,
    });
    let mut headers = vec![("anthropic-version", VERSION.to_owned())];
    if let Some(key) = &c.api_key {
        headers.push(("x-api-key", key.expose().to_owned()));
    }
    let response = llm.post(&format!("{}/v1/messages", c.base_url), &body, &headers)?;
    let mut text = String::new();
    let mut usage = Usage::default();
    let mut done = false;
    let mut bad: Option<String> = None;
    let mut overloaded: Option<String> = None;
    let read = for_each_event(BufReader::new(response), |event| {
        let data: Json = match serde_json::from_str(&event.data) {
            Ok(v) => v,
            Err(e) => {
                bad = Some(format!(
                    "{e} in {:?}",
                    event.data.chars().take(200).collect::<String>()
                ));
                return false;
            }
        };
        match data.get("type").and_then(Json::as_str).unwrap_or_default() {
            "message_start" => {
                usage.input_tokens = data
                    .pointer("/message/usage/input_tokens")
                    .and_then(Json::as_u64)
                    .unwrap_or(0);
            }
            "content_block_delta" => {
                if let Some(delta) = data.pointer("/delta/text").and_then(Json::as_str) {
                    text.push_str(delta);
                    on_text(delta);
                }
            }
            "message_delta" => {
                if let Some(n) = data.pointer("/usage/output_tokens").and_then(Json::as_u64) {
                    usage.output_tokens = n;
                }
            }
            "message_stop" => {
                done = true;
                return false;
            }
            "error" => {
                let kind = data
                    .pointer("/error/type")
                    .and_then(Json::as_str)
                    .unwrap_or_default();
                let message = data
                    .pointer("/error/message")
                    .and_then(Json::as_str)
                    .unwrap_or_default()
                    .to_owned();
                if kind == "overloaded_error" || kind == "api_error" {
                    overloaded = Some(format!("{kind}: {message}"));
                } else {
                    bad = Some(format!("{kind}: {message}"));
                }
                return false;
            }
            _ => {}
        }
        true
    });
    if let Some(why) = overloaded {
        return Err(AttemptError::Retry { why, after: None });
    }
    if let Some(why) = bad {
        // A garbled stream is usually a glitch on the way: worth another try.
        return Err(AttemptError::Retry {
            why: LlmError::Malformed(why).to_string(),
            after: None,
        });
    }
    match read {
        Err(e) => Err(AttemptError::Retry {
            why: format!("the stream broke off after {} characters: {e}", text.len()),
            after: None,
        }),
        Ok(()) if !done => Err(AttemptError::Retry {
            why: format!(
                "the stream ended without message_stop after {} characters",
                text.len()
            ),
            after: None,
        }),
        Ok(()) => Ok((text, usage)),
    }
}
