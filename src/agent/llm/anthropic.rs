//! Anthropic Messages, streamed (`stream: true`), with native tool use when
//! tools are offered.

use std::io::BufReader;

use serde_json::{json, Value as Json};

use super::sse::for_each_event;
use super::{stream_end, AttemptError, Llm, Message, Reply, ToolCall, ToolSpec};

/// The API version this client speaks.
const VERSION: &str = "2023-06-01";

/// The conversation in Messages form: content blocks for tool use and results.
fn wire_messages(messages: &[Message]) -> Vec<Json> {
    messages
        .iter()
        .map(|m| {
            if m.tool_calls.is_empty() && m.tool_results.is_empty() && m.images.is_empty() {
                return json!({"role": m.role, "content": m.content});
            }
            let mut blocks = Vec::new();
            for r in &m.tool_results {
                blocks.push(
                    json!({"type": "tool_result", "tool_use_id": r.id, "content": r.content}),
                );
            }
            if !m.content.is_empty() {
                blocks.push(json!({"type": "text", "text": m.content}));
            }
            // After any tool results, as the API requires of a user message.
            for i in &m.images {
                blocks.push(json!({"type": "image", "source": {"type": "base64", "media_type": i.mime, "data": i.base64()}}));
            }
            for c in &m.tool_calls {
                let input = if c.arguments.is_object() {
                    c.arguments.clone()
                } else {
                    json!({})
                };
                blocks
                    .push(json!({"type": "tool_use", "id": c.id, "name": c.name, "input": input}));
            }
            json!({"role": m.role, "content": blocks})
        })
        .collect()
}

/// One streamed request. Returns the reply, or why it failed.
pub(super) fn attempt(
    llm: &Llm,
    system: &str,
    messages: &[Message],
    tools: &[ToolSpec],
    on_text: &mut dyn FnMut(&str),
) -> Result<Reply, AttemptError> {
    let c = &llm.config;
    let mut body = json!({
        "model": c.model,
        "system": system,
        "messages": wire_messages(messages),
        "stream": true,
        "max_tokens": c.max_tokens,
        "temperature": c.temperature,
    });
    if !tools.is_empty() {
        body["tools"] = tools.iter().map(|t| json!({"name": t.name, "description": t.description, "input_schema": t.parameters})).collect();
    }
    let mut headers = vec![("anthropic-version", VERSION.to_owned())];
    if let Some(key) = &c.api_key {
        headers.push(("x-api-key", key.expose().to_owned()));
    }
    let response = llm.post(&format!("{}/v1/messages", c.base_url), &body, &headers)?;
    let mut reply = Reply::default();
    // Tool-use blocks by content index: id, name, the input JSON as it streams.
    let mut blocks: Vec<(usize, String, String, String)> = Vec::new();
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
        let index = data.get("index").and_then(Json::as_u64).unwrap_or(0) as usize;
        match data.get("type").and_then(Json::as_str).unwrap_or_default() {
            "message_start" => {
                reply.usage.input_tokens = data
                    .pointer("/message/usage/input_tokens")
                    .and_then(Json::as_u64)
                    .unwrap_or(0);
            }
            "content_block_start" => {
                let block = &data["content_block"];
                if block["type"] == "tool_use" {
                    let s = |k: &str| block[k].as_str().unwrap_or_default().to_owned();
                    blocks.push((index, s("id"), s("name"), String::new()));
                }
            }
            "content_block_delta" => {
                if let Some(delta) = data.pointer("/delta/text").and_then(Json::as_str) {
                    reply.text.push_str(delta);
                    on_text(delta);
                }
                if let Some(part) = data.pointer("/delta/partial_json").and_then(Json::as_str) {
                    if let Some(b) = blocks.iter_mut().find(|b| b.0 == index) {
                        b.3.push_str(part);
                    }
                }
            }
            "message_delta" => {
                if let Some(n) = data.pointer("/usage/output_tokens").and_then(Json::as_u64) {
                    reply.usage.output_tokens = n;
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
    stream_end(read, bad, done, "message_stop", reply.text.len())?;
    reply.tool_calls = blocks
        .into_iter()
        .map(|(_, id, name, input)| ToolCall {
            id,
            name,
            arguments: if input.trim().is_empty() {
                json!({})
            } else {
                serde_json::from_str(&input).unwrap_or(Json::String(input))
            },
        })
        .collect();
    Ok(reply)
}
