//! The agent loop: an LLM composes skills in code until the task is done.
//!
//! - [`llm`]: OpenAI-compatible and Anthropic endpoints, streamed, with retries.
//! - [`prompt`]: the system prompt from the live skill registry.
//! - [`images`]: pictures from observations, scaled and saved, for vision models.
//! - [`reply`]: code actions in a reply.
//! - [`episode`]: the turn loop, budgets, nudges, stuck detection.
//! - [`transcript`]: the run folder.

pub mod actions;
pub mod episode;
pub mod images;
pub mod llm;
pub mod prompt;
pub mod reply;
pub mod transcript;
