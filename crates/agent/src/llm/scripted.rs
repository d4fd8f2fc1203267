//! [`Scripted`]: a model that answers from a list made beforehand, for
//! replaying a recorded run (`codeact replay`) and for tests of the loop.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use super::{Completion, LlmError, Message, Model, ToolSpec, Usage};

/// Answers from a script, in order; remembers what it was asked.
pub struct Scripted {
    name: String,
    replies: Mutex<VecDeque<Result<Completion, LlmError>>>,
    asked: Mutex<Vec<Vec<Message>>>,
    ended: fn() -> LlmError,
}

impl Scripted {
    /// A model called `name` giving `replies` in order; once they run out,
    /// every request fails as malformed ("the script has ended").
    pub fn new(
        name: &str,
        replies: impl IntoIterator<Item = Result<Completion, LlmError>>,
    ) -> Self {
        Scripted {
            name: name.into(),
            replies: Mutex::new(replies.into_iter().collect()),
            asked: Mutex::default(),
            ended: || LlmError::Malformed("the script has ended".into()),
        }
    }

    /// A script of plain text replies.
    pub fn texts<'a>(name: &str, replies: impl IntoIterator<Item = &'a str>) -> Self {
        Self::new(name, replies.into_iter().map(|r| Ok(Completion::text(r))))
    }

    /// What a request fails with once the replies have run out.
    pub fn when_ended(mut self, ended: fn() -> LlmError) -> Self {
        self.ended = ended;
        self
    }

    /// The conversation of each request so far.
    pub fn asked(&self) -> Vec<Vec<Message>> {
        self.asked.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl Completion {
    /// A reply of `text` alone, as one attempt with no tokens counted.
    pub fn text(text: &str) -> Self {
        Completion {
            text: text.into(),
            tool_calls: Vec::new(),
            usage: Usage::default(),
            attempts: 1,
            latency_ms: 0.0,
        }
    }
}

impl Model for Scripted {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn complete(
        &self,
        _system: &str,
        messages: &[Message],
        _tools: &[ToolSpec],
        on_text: &mut dyn FnMut(&str),
        _on_retry: &mut dyn FnMut(&str, Duration),
    ) -> Result<Completion, LlmError> {
        self.asked
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(messages.to_vec());
        let next = self
            .replies
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pop_front();
        let completion = next.unwrap_or_else(|| Err((self.ended)()))?;
        on_text(&completion.text);
        Ok(completion)
    }
}
