//! The types the codeact supervisor and its sandboxed worker share, in a
//! crate of their own so the worker binary links only these, Python and the
//! sandbox: [`wire`] (the messages between the two processes and their
//! framing), [`observation`] (what an action produced), [`output`]
//! (head-and-tail output keeping), [`config`] (limits and the worker's
//! configuration) and [`library`] (what the skill library loaded).

pub mod config;
pub mod library;
pub mod observation;
pub mod output;
pub mod wire;
