//! OpenAI-compatible Chat Completions, streamed (`stream: true`).

use std::io::BufReader;

use serde_json::{json, Value as Json};

use super::sse::for_each_event;
use super::{AttemptError, Llm, LlmError, Message, Usage};

/// One streamed request. Returns the text and usage, or why it failed.
pub(super) fn attempt(
    llm: &Llm,
    system: &str,
    messages: &[Message],
    on_text: &mut dyn FnMut(&str),
) -> Result<(String, Usage), AttemptError> {
    let c = &llm.config;
    let mut all = vec![json!({"role": "system", "content": system})];
    all.extend(
        messages
            .iter()
            .map(|m| json!({"role": m.role, "content": m.content})),
    );
    let body = json!({
        "model": c.model,
        "messages": all,
        "stream": true,
        "stream_options": {"include_usage": true},
        "max_tokens": c.max_tokens,
        "temperature": c.temperature,
    });
    let mut headers = Vec::new();
    if let Some(key) = &c.api_key {
        headers.push(("authorization", format!("Bearer {}", key.expose())));
    }
    let response = llm.post(&format!("{}/chat/completions", c.base_url), &body, &headers)?;
    let mut text = String::new();
    let mut usage = Usage::default();
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
            text.push_str(delta);
            on_text(delta);
        }
        if let Some(u) = chunk.get("usage").filter(|u| !u.is_null()) {
            usage.input_tokens = u.get("prompt_tokens").and_then(Json::as_u64).unwrap_or(0);
            usage.output_tokens = u
                .get("completion_tokens")
                .and_then(Json::as_u64)
                .unwrap_or(0);
        }
        true
    });
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
                "the stream ended without [DONE] after {} characters",
                text.len()
            ),
            after: None,
        }),
        Ok(()) => Ok((text, usage)),
    }
}
