//! OpenAI-compatible Chat Completions, streamed (`stream: true`), with
//! native tool calls when tools are offered.

use std::io::{BufRead, BufReader};

use serde_json::{json, Value as Json};

use super::sse::for_each_event;
use super::{stream_end, AttemptError, Llm, LlmConfig, Message, Reply, Role, ToolCall, ToolSpec};

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
    let body = request_body(c, system, messages, tools);
    let mut headers = Vec::new();
    if let Some(key) = &c.api_key {
        headers.push(("authorization", format!("Bearer {}", key.expose())));
    }
    let response = llm.post(&format!("{}/chat/completions", c.base_url), &body, &headers)?;
    assemble(BufReader::new(response), on_text)
}

/// The request's body.
fn request_body(c: &LlmConfig, system: &str, messages: &[Message], tools: &[ToolSpec]) -> Json {
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
    body
}

/// The reply a streamed response makes: text deltas (each also handed to
/// `on_text`), tool calls whose pieces arrive by index, usage; a cut,
/// garbled or failed stream is worth another try.
fn assemble(stream: impl BufRead, on_text: &mut dyn FnMut(&str)) -> Result<Reply, AttemptError> {
    let mut reply = Reply::default();
    let mut partial: Vec<Partial> = Vec::new();
    let mut done = false;
    let mut bad: Option<String> = None;
    let read = for_each_event(stream, |event| {
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

#[cfg(test)]
mod tests {
    use super::super::wire_tests::*;
    use super::super::Provider;
    use super::*;

    #[test]
    fn the_body_carries_the_conversation_tools_and_pictures_in_chat_completions_form() {
        let body = request_body(&config(Provider::OpenAi), "SYS", &conversation(), &tools());
        assert_eq!(body["model"], "m-1");
        assert_eq!(body["stream"], true);
        assert_eq!(body["stream_options"]["include_usage"], true);
        assert_eq!(body["max_tokens"], 321);
        assert_eq!(body["temperature"], 0.25);
        let m = body["messages"].as_array().unwrap();
        assert_eq!(m[0], json!({"role": "system", "content": "SYS"}));
        assert_eq!(m[1], json!({"role": "user", "content": "Go to (1, 2)."}));
        // The call rides on the assistant message, its arguments as a JSON string.
        assert_eq!(m[2]["role"], "assistant");
        assert_eq!(m[2]["content"], "Going.");
        assert_eq!(m[2]["tool_calls"][0]["id"], "c1");
        assert_eq!(m[2]["tool_calls"][0]["function"]["name"], "move_to");
        let args: Json = serde_json::from_str(
            m[2]["tool_calls"][0]["function"]["arguments"]
                .as_str()
                .unwrap(),
        )
        .unwrap();
        assert_eq!(args, json!({"x": 1.0, "y": 2.0}));
        // The result is a tool message; its picture follows in a user message.
        assert_eq!(
            m[3],
            json!({"role": "tool", "tool_call_id": "c1", "content": "pose (1.0, 2.0)"})
        );
        assert_eq!(m[4]["role"], "user");
        assert_eq!(m[4]["content"][0]["type"], "text");
        assert_eq!(
            m[4]["content"][1]["image_url"]["url"],
            "data:image/png;base64,iVBORw=="
        );
        assert_eq!(m.len(), 5);
        assert_eq!(body["tools"][0]["type"], "function");
        assert_eq!(body["tools"][0]["function"]["name"], "move_to");
        assert_eq!(body["tools"][0]["function"]["parameters"]["type"], "object");
        // Without tools, no tools key.
        let plain = request_body(&config(Provider::OpenAi), "SYS", &conversation(), &[]);
        assert!(plain.get("tools").is_none());
    }

    #[test]
    fn text_tool_call_pieces_and_usage_are_assembled_from_the_stream() {
        let mut live = String::new();
        let reply = assemble(
            sse(&[
                r#"{"choices":[{"delta":{"content":"Hel"}}]}"#,
                r#"{"choices":[{"delta":{"content":"lo"}}]}"#,
                r#"{"choices":[{"delta":{"tool_calls":[{"index":0,"id":"k","function":{"name":"move_","arguments":"{\"x\":"}}]}}]}"#,
                r#"{"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"name":"to","arguments":" 1.5}"}}]}}]}"#,
                r#"{"choices":[{"delta":{"tool_calls":[{"index":1,"function":{"name":"stop","arguments":"not json"}}]}}]}"#,
                r#"{"choices":[],"usage":{"prompt_tokens":12,"completion_tokens":7}}"#,
                "[DONE]",
            ]),
            &mut |t| live.push_str(t),
        )
        .unwrap();
        assert_eq!(reply.text, "Hello");
        assert_eq!(live, "Hello", "each delta handed on as it came");
        assert_eq!(reply.tool_calls.len(), 2);
        assert_eq!(reply.tool_calls[0].id, "k");
        assert_eq!(reply.tool_calls[0].name, "move_to");
        assert_eq!(reply.tool_calls[0].arguments, json!({"x": 1.5}));
        // No id: one is made; arguments that are not JSON stay a string.
        assert_eq!(reply.tool_calls[1].id, "call_1");
        assert_eq!(reply.tool_calls[1].arguments, json!("not json"));
        assert_eq!(
            (reply.usage.input_tokens, reply.usage.output_tokens),
            (12, 7)
        );
    }

    #[test]
    fn cut_garbled_and_failed_streams_are_retried_saying_why() {
        let cut = retry_reason(assemble(
            sse(&[r#"{"choices":[{"delta":{"content":"Hel"}}]}"#]),
            &mut |_| {},
        ));
        assert!(cut.contains("without [DONE] after 3 characters"), "{cut}");
        let garbled = retry_reason(assemble(sse(&["{\"choices\": ["]), &mut |_| {}));
        assert!(garbled.contains("{\\\"choices\\\": ["), "{garbled}");
        let failed = retry_reason(assemble(
            sse(&[r#"{"error":{"message":"overloaded"}}"#]),
            &mut |_| {},
        ));
        assert!(
            failed.contains("error in the stream") && failed.contains("overloaded"),
            "{failed}"
        );
        // An empty body is a stream that never ended.
        let empty = retry_reason(assemble(sse(&[]), &mut |_| {}));
        assert!(empty.contains("without [DONE]"), "{empty}");
    }
}
