//! Server-sent events, read line by line from a streaming response.

use std::io::BufRead;

/// One event: its `event:` name (if any) and its `data:` lines joined.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Event {
    /// The `event:` field.
    pub name: Option<String>,
    /// The `data:` field(s), joined by newlines.
    pub data: String,
}

/// Reads events from `reader`, calling `f` for each; stops early when `f`
/// returns false. A read error (a cut connection, a timeout) is returned.
pub fn for_each_event(
    reader: impl BufRead,
    mut f: impl FnMut(Event) -> bool,
) -> std::io::Result<()> {
    let mut event = Event::default();
    let mut has_data = false;
    for line in reader.lines() {
        let line = line?;
        let line = line.strip_suffix('\r').unwrap_or(&line);
        if line.is_empty() {
            if has_data && !f(std::mem::take(&mut event)) {
                return Ok(());
            }
            event = Event::default();
            has_data = false;
            continue;
        }
        if line.starts_with(':') {
            continue; // a comment (keep-alive)
        }
        let (field, value) = line
            .split_once(':')
            .map_or((line, ""), |(f, v)| (f, v.strip_prefix(' ').unwrap_or(v)));
        match field {
            "event" => event.name = Some(value.to_owned()),
            "data" => {
                if has_data {
                    event.data.push('\n');
                }
                event.data.push_str(value);
                has_data = true;
            }
            _ => {}
        }
    }
    if has_data {
        f(event);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_split_on_blank_lines() {
        let text = ": ping\nevent: a\ndata: {\"x\":1}\n\ndata: one\ndata: two\n\ndata: [DONE]\n\n";
        let mut seen = Vec::new();
        for_each_event(text.as_bytes(), |e| {
            seen.push(e);
            true
        })
        .unwrap();
        assert_eq!(seen.len(), 3);
        assert_eq!(seen[0].name.as_deref(), Some("a"));
        assert_eq!(seen[1].data, "one\ntwo");
        assert_eq!(seen[2].data, "[DONE]");
    }
}
