//! Anthropic Messages, streamed (`stream: true`), with native tool use when
//! tools are offered.

use std::io::{BufRead, BufReader};

use serde_json::{json, Value as Json};

use super::sse::for_each_event;
use super::{stream_end, AttemptError, Llm, LlmConfig, Message, Reply, ToolCall, ToolSpec};

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
                blocks.push(json!({"type": "image", "source": {"type": "base64", "media_type": i.mime.mime(), "data": i.base64()}}));
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
    let body = request_body(c, system, messages, tools);
    let mut headers = vec![("anthropic-version", VERSION.to_owned())];
    if let Some(key) = &c.api_key {
        headers.push(("x-api-key", key.expose().to_owned()));
    }
    let response = llm.post(&format!("{}/v1/messages", c.base_url), &body, &headers)?;
    assemble(BufReader::new(response), on_text)
}

/// The request's body.
fn request_body(c: &LlmConfig, system: &str, messages: &[Message], tools: &[ToolSpec]) -> Json {
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
    body
}

/// The reply a streamed response makes: text deltas (each also handed to
/// `on_text`), tool-use blocks whose input JSON arrives in pieces, usage;
/// an overloaded or cut stream is worth another try, as is a garbled one.
fn assemble(stream: impl BufRead, on_text: &mut dyn FnMut(&str)) -> Result<Reply, AttemptError> {
    let mut reply = Reply::default();
    // Tool-use blocks by content index: id, name, the input JSON as it streams.
    let mut blocks: Vec<(usize, String, String, String)> = Vec::new();
    let mut done = false;
    let mut bad: Option<String> = None;
    let mut overloaded: Option<String> = None;
    let read = for_each_event(stream, |event| {
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

#[cfg(test)]
mod tests {
    use super::super::wire_tests::*;
    use super::super::Provider;
    use super::*;

    #[test]
    fn the_body_carries_the_conversation_tools_and_pictures_as_content_blocks() {
        let body = request_body(
            &config(Provider::Anthropic),
            "SYS",
            &conversation(),
            &tools(),
        );
        assert_eq!(body["model"], "m-1");
        assert_eq!(body["system"], "SYS");
        assert_eq!(body["stream"], true);
        assert_eq!(body["max_tokens"], 321);
        let m = body["messages"].as_array().unwrap();
        assert_eq!(m.len(), 3);
        assert_eq!(m[0], json!({"role": "user", "content": "Go to (1, 2)."}));
        // The call is a tool_use block after the text.
        assert_eq!(
            m[1]["content"][0],
            json!({"type": "text", "text": "Going."})
        );
        assert_eq!(
            m[1]["content"][1],
            json!({"type": "tool_use", "id": "c1", "name": "move_to", "input": {"x": 1.0, "y": 2.0}})
        );
        // The result comes first in its user message, then the picture.
        assert_eq!(
            m[2]["content"][0],
            json!({"type": "tool_result", "tool_use_id": "c1", "content": "pose (1.0, 2.0)"})
        );
        assert_eq!(
            m[2]["content"][1],
            json!({"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw=="}})
        );
        assert_eq!(body["tools"][0]["name"], "move_to");
        assert_eq!(body["tools"][0]["input_schema"]["type"], "object");
        let plain = request_body(&config(Provider::Anthropic), "SYS", &conversation(), &[]);
        assert!(plain.get("tools").is_none());
    }

    #[test]
    fn text_tool_use_input_pieces_and_usage_are_assembled_from_the_stream() {
        let mut live = String::new();
        let reply = assemble(
            sse(&[
                r#"{"type":"message_start","message":{"usage":{"input_tokens":20}}}"#,
                r#"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#,
                r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"On my"}}"#,
                r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":" way."}}"#,
                r#"{"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"t1","name":"move_to"}}"#,
                r#"{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"x\": 2"}}"#,
                r#"{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"}"}}"#,
                r#"{"type":"content_block_start","index":2,"content_block":{"type":"tool_use","id":"t2","name":"stop"}}"#,
                r#"{"type":"message_delta","usage":{"output_tokens":9}}"#,
                r#"{"type":"message_stop"}"#,
            ]),
            &mut |t| live.push_str(t),
        )
        .unwrap();
        assert_eq!(reply.text, "On my way.");
        assert_eq!(live, "On my way.");
        assert_eq!(reply.tool_calls.len(), 2);
        assert_eq!(reply.tool_calls[0].id, "t1");
        assert_eq!(reply.tool_calls[0].arguments, json!({"x": 2}));
        // A tool with no input gets an empty object.
        assert_eq!(reply.tool_calls[1].arguments, json!({}));
        assert_eq!(
            (reply.usage.input_tokens, reply.usage.output_tokens),
            (20, 9)
        );
    }

    #[test]
    fn overloaded_cut_and_garbled_streams_are_retried_saying_why() {
        let overloaded = retry_reason(assemble(
            sse(&[r#"{"type":"error","error":{"type":"overloaded_error","message":"busy"}}"#]),
            &mut |_| {},
        ));
        assert_eq!(overloaded, "overloaded_error: busy");
        let cut = retry_reason(assemble(
            sse(&[r#"{"type":"content_block_delta","index":0,"delta":{"text":"ab"}}"#]),
            &mut |_| {},
        ));
        assert!(
            cut.contains("without message_stop after 2 characters"),
            "{cut}"
        );
        let garbled = retry_reason(assemble(sse(&["{oops"]), &mut |_| {}));
        assert!(garbled.contains("oops"), "{garbled}");
        let refused = retry_reason(assemble(
            sse(&[r#"{"type":"error","error":{"type":"invalid_request_error","message":"bad"}}"#]),
            &mut |_| {},
        ));
        assert!(refused.contains("invalid_request_error: bad"), "{refused}");
    }
}
