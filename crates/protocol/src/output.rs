//! [`OutputBuffer`]: keeps the head and the tail of an action's output, with
//! the size of what was cut between them. Used in the worker (for what Python
//! prints) and in the supervisor (which also captures the worker's raw fds).

use std::collections::VecDeque;

use crate::observation::{Chunk, Stream};

/// The kept output of one action.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct KeptOutput {
    /// The first bytes, in the order written.
    pub head: Vec<Chunk>,
    /// Bytes dropped between head and tail.
    pub cut_bytes: u64,
    /// The last bytes, in the order written.
    pub tail: Vec<Chunk>,
}

/// Head-and-tail output keeper. Memory stays bounded by the two limits
/// however much is written.
#[derive(Debug)]
pub struct OutputBuffer {
    head_limit: usize,
    tail_limit: usize,
    head: Vec<Chunk>,
    head_bytes: usize,
    head_closed: bool,
    tail: VecDeque<Chunk>,
    tail_bytes: usize,
    cut_bytes: u64,
    total: u64,
}

impl OutputBuffer {
    /// A buffer keeping up to `head` bytes from the start and `tail` from the end.
    pub fn new(head: usize, tail: usize) -> Self {
        OutputBuffer {
            head_limit: head,
            tail_limit: tail,
            head: Vec::new(),
            head_bytes: 0,
            head_closed: false,
            tail: VecDeque::new(),
            tail_bytes: 0,
            cut_bytes: 0,
            total: 0,
        }
    }

    /// Bytes written so far, kept or not.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// True once the head is full: later output goes to the tail only.
    pub fn head_closed(&self) -> bool {
        self.head_closed
    }

    /// Adds text. Returns the part that went into the head (to be streamed live).
    pub fn push<'t>(&mut self, stream: Stream, text: &'t str) -> &'t str {
        self.total += text.len() as u64;
        let mut rest = text;
        let mut into_head = "";
        if !self.head_closed {
            let room = self.head_limit - self.head_bytes;
            let take = floor_char_boundary(text, room);
            into_head = &text[..take];
            rest = &text[take..];
            if !into_head.is_empty() {
                append(&mut self.head, stream, into_head);
                self.head_bytes += into_head.len();
            }
            if !rest.is_empty() {
                self.head_closed = true;
            }
        }
        if !rest.is_empty() {
            self.push_tail(stream, rest);
        }
        into_head
    }

    /// Records `bytes` dropped elsewhere (by the worker's own buffer): closes the head.
    pub fn push_cut(&mut self, bytes: u64) {
        if bytes > 0 {
            self.head_closed = true;
            self.cut_bytes += bytes;
            self.total += bytes;
        }
    }

    fn push_tail(&mut self, stream: Stream, text: &str) {
        // Only the last `tail_limit` bytes of a long text can survive.
        let keep_from = ceil_char_boundary(text, text.len().saturating_sub(self.tail_limit));
        self.cut_bytes += keep_from as u64;
        let text = &text[keep_from..];
        if text.is_empty() {
            return;
        }
        match self.tail.back_mut() {
            Some(last) if last.stream == stream => last.text.push_str(text),
            _ => self.tail.push_back(Chunk {
                stream,
                text: text.to_owned(),
            }),
        }
        self.tail_bytes += text.len();
        while self.tail_bytes > self.tail_limit {
            let excess = self.tail_bytes - self.tail_limit;
            let Some(first) = self.tail.front_mut() else {
                break;
            };
            if first.text.len() <= excess {
                self.tail_bytes -= first.text.len();
                self.cut_bytes += first.text.len() as u64;
                self.tail.pop_front();
            } else {
                let cut = ceil_char_boundary(&first.text, excess);
                first.text.drain(..cut);
                self.tail_bytes -= cut;
                self.cut_bytes += cut as u64;
            }
        }
    }

    /// Takes what was kept, leaving the buffer empty (limits unchanged).
    pub fn take(&mut self) -> KeptOutput {
        let kept = KeptOutput {
            head: std::mem::take(&mut self.head),
            cut_bytes: self.cut_bytes,
            tail: std::mem::take(&mut self.tail).into(),
        };
        *self = OutputBuffer::new(self.head_limit, self.tail_limit);
        kept
    }
}

/// Appends to the last chunk when it is the same stream, so chunk lists stay short.
pub fn append(chunks: &mut Vec<Chunk>, stream: Stream, text: &str) {
    match chunks.last_mut() {
        Some(last) if last.stream == stream => last.text.push_str(text),
        _ => chunks.push(Chunk {
            stream,
            text: text.to_owned(),
        }),
    }
}

/// The largest char boundary `<= index`.
pub fn floor_char_boundary(s: &str, index: usize) -> usize {
    if index >= s.len() {
        return s.len();
    }
    (0..=index)
        .rev()
        .find(|&i| s.is_char_boundary(i))
        .unwrap_or(0)
}

/// The smallest char boundary `>= index`.
fn ceil_char_boundary(s: &str, index: usize) -> usize {
    if index >= s.len() {
        return s.len();
    }
    (index..=s.len())
        .find(|&i| s.is_char_boundary(i))
        .unwrap_or(s.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(chunks: &[Chunk]) -> String {
        chunks.iter().map(|c| c.text.as_str()).collect()
    }

    #[test]
    fn small_output_is_kept_whole_in_order() {
        let mut b = OutputBuffer::new(100, 10);
        assert_eq!(b.push(Stream::Stdout, "a"), "a");
        b.push(Stream::Stdout, "b");
        b.push(Stream::Stderr, "E");
        b.push(Stream::Stdout, "c");
        let kept = b.take();
        assert_eq!(kept.head.len(), 3);
        assert_eq!(text(&kept.head), "abEc");
        assert_eq!(kept.cut_bytes, 0);
        assert!(kept.tail.is_empty());
    }

    #[test]
    fn long_output_keeps_head_and_tail_and_counts_the_cut() {
        let mut b = OutputBuffer::new(10, 5);
        let mut streamed = String::new();
        for i in 0..1000 {
            streamed.push_str(b.push(Stream::Stdout, &format!("{i}\n")));
        }
        let total = b.total();
        let kept = b.take();
        assert_eq!(streamed, "0\n1\n2\n3\n4\n");
        assert_eq!(text(&kept.head), "0\n1\n2\n3\n4\n");
        assert_eq!(text(&kept.tail), "\n999\n");
        assert_eq!(10 + kept.cut_bytes + 5, total);
    }

    #[test]
    fn one_huge_write_is_not_copied_whole_and_utf8_is_respected() {
        let mut b = OutputBuffer::new(3, 3);
        let big = "é".repeat(1_000_000);
        assert_eq!(b.push(Stream::Stdout, &big), "é");
        let kept = b.take();
        assert_eq!(text(&kept.tail), "é");
        assert_eq!(2 + kept.cut_bytes + 2, big.len() as u64);
    }
}
