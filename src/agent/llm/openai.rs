//! OpenAI-compatible Chat Completions, streamed (`stream: true`), with
//! native tool calls when tools are offered.

use std::io::BufReader;

use serde_json::{json, Value as Json};

use super::sse::for_each_event;
use super::{stream_end, AttemptError, Llm, Message, Reply, Role, ToolCall, ToolSpec};

/// The conversation in Chat Completions form: tool results become `tool`
/// messages, tool calls ride on the assistant message.
fn wire_messages(system: &str, messages: &[Message]) -> Vec<Json> {
    let mut all = vec![json!({"role": "system", "content": system})];
    for m in messages {
        for r in &m.tool_results {
            all.push(json!({"role": "tool", "tool_call_id": r.id, "content": r.content}));
        }
        if m.role == Role::Assistant && !m.tool_calls.is_empty() {
            let calls: Vec<Json> = m
                .tool_calls
                .iter()
                .map(|c| json!({"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments.to_string()}}))
                .collect();
            let content = if m.content.is_empty() {
                Json::Null
            } else {
                json!(m.content)
            };
            all.push(json!({"role": "assistant", "content": content, "tool_calls": calls}));
        } else if !m.images.is_empty() {
            all.push(json!({"role": m.role, "content": parts(m)}));
        } else if !m.content.is_empty() || m.tool_results.is_empty() {
            all.push(json!({"role": m.role, "content": m.content}));
        }
    }
    all
}

/// A message with pictures as content parts: its text, then each picture as
/// an `image_url` with a data URL. Tool messages carry text only, so the
/// pictures of tool calls come in the user message after them.
fn parts(m: &Message) -> Json {
    let text = if m.content.is_empty() {
        "Pictures the calls above attached, in order:"
    } else {
        &m.content
    };
    let mut parts = vec![json!({"type": "text", "text": text})];
    parts.extend(
        m.images
            .iter()
            .map(|i| json!({"type": "image_url", "image_url": {"url": i.data_url()}})),
    );
    Json::Array(parts)
}

/// A tool call being streamed: pieces of its arguments arrive one by one.
#[derive(Default)]
struct Partial {
    id: String,
    name: String,
    arguments: String,
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
        "messages": wire_messages(system, messages),
        "stream": true,
        "stream_options": {"include_usage": true},
        "max_tokens": c.max_tokens,
        "temperature": c.temperature,
    });
    if !tools.is_empty() {
        body["tools"] = tools
            .iter()
            .map(|t| json!({"type": "function", "function": {"name": t.name, "description": t.description, "parameters": t.parameters}}))
            .collect();
    }
    let mut headers = Vec::new();
    if let Some(key) = &c.api_key {
        headers.push(("authorization", format!("Bearer {}", key.expose())));
    }
    let response = llm.post(&format!("{}/chat/completions", c.base_url), &body, &headers)?;
    let mut reply = Reply::default();
    let mut partial: Vec<Partial> = Vec::new();
    let mut done = false;
    let mut bad: Option<String> = None;
    let read = for_each_event(BufReader::new(response), |event| {
        if event.data.trim() == "[DONE]" {
            done = true;
            return false;
        }
        let chunk: Json = match serde_json::from_str(&event.data) {
            Ok(v) => v,
            Err(e) => {
                bad = Some(format!(
                    "{e} in {:?}",
                    event.data.chars().take(200).collect::<String>()
                ));
                return false;
            }
        };
        if let Some(err) = chunk.get("error") {
            bad = Some(format!("error in the stream: {err}"));
            return false;
        }
        if let Some(delta) = chunk
            .pointer("/choices/0/delta/content")
            .and_then(Json::as_str)
        {
            reply.text.push_str(delta);
            on_text(delta);
        }
        for call in chunk
            .pointer("/choices/0/delta/tool_calls")
            .and_then(Json::as_array)
            .into_iter()
            .flatten()
        {
            let index = call.get("index").and_then(Json::as_u64).unwrap_or(0) as usize;
            if partial.len() <= index {
                partial.resize_with(index + 1, Partial::default);
            }
            let p = &mut partial[index];
            if let Some(id) = call.get("id").and_then(Json::as_str) {
                p.id = id.to_owned();
            }
            if let Some(name) = call.pointer("/function/name").and_then(Json::as_str) {
                p.name.push_str(name);
            }
            if let Some(args) = call.pointer("/function/arguments").and_then(Json::as_str) {
                p.arguments.push_str(args);
            }
        }
        if let Some(u) = chunk.get("usage").filter(|u| !u.is_null()) {
            reply.usage.input_tokens = u.get("prompt_tokens").and_then(Json::as_u64).unwrap_or(0);
            reply.usage.output_tokens = u
                .get("completion_tokens")
                .and_then(Json::as_u64)
                .unwrap_or(0);
        }
        true
    });
    stream_end(read, bad, done, "[DONE]", reply.text.len())?;
    reply.tool_calls = partial
        .into_iter()
        .filter(|p| !p.name.is_empty())
        .enumerate()
        .map(|(i, p)| ToolCall {
            id: if p.id.is_empty() {
                format!("call_{i}")
            } else {
                p.id
            },
            name: p.name,
            // Arguments that are not JSON reach the loop as a string, which says so.
            arguments: serde_json::from_str(&p.arguments).unwrap_or(Json::String(p.arguments)),
        })
        .collect();
    Ok(reply)
}
