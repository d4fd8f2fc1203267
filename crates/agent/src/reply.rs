//! Code actions in an LLM's reply: fenced code blocks (```python, ```py or
//! bare ```), and the CodeAct paper's `<execute>...</execute>` tags.

/// The code actions in a reply, in order. Blocks in other languages
/// (```json, ```text, ```bash) are not actions.
pub fn code_actions(reply: &str) -> Vec<String> {
    let mut actions = Vec::new();
    let mut rest = reply;
    loop {
        let fence = rest.find("```");
        let tag = rest.find("<execute>");
        match (fence, tag) {
            (Some(f), t) if t.is_none_or(|t| f < t) => {
                let after = &rest[f + 3..];
                let (info, body_start) = match after.find('\n') {
                    Some(nl) => (after[..nl].trim(), nl + 1),
                    None => break, // a fence that never opens a body
                };
                let body = &after[body_start..];
                let (code, next) = match find_closing_fence(body) {
                    Some((end, next)) => (&body[..end], &body[next..]),
                    None => (body, ""), // an unclosed block at the end of a cut reply
                };
                let lang = info
                    .split_whitespace()
                    .next()
                    .unwrap_or("")
                    .to_ascii_lowercase();
                if matches!(lang.as_str(), "" | "python" | "py" | "python3")
                    && !code.trim().is_empty()
                {
                    actions.push(dedent_trailing(code));
                }
                rest = next;
            }
            (_, Some(t)) => {
                let after = &rest[t + "<execute>".len()..];
                let (code, next) = match after.find("</execute>") {
                    Some(end) => (&after[..end], &after[end + "</execute>".len()..]),
                    None => (after, ""),
                };
                if !code.trim().is_empty() {
                    actions.push(dedent_trailing(code.trim_matches('\n')));
                }
                rest = next;
            }
            _ => break,
        }
    }
    actions
}

/// The closing fence of a block: a line that is only ``` (maybe indented).
/// Returns where the code ends and where the text after the fence starts.
fn find_closing_fence(body: &str) -> Option<(usize, usize)> {
    let mut offset = 0;
    for line in body.split_inclusive('\n') {
        if line.trim() == "```" {
            return Some((offset, offset + line.len()));
        }
        offset += line.len();
    }
    None
}

/// The code without a trailing newline run; its own indentation is kept.
fn dedent_trailing(code: &str) -> String {
    code.trim_end_matches(['\n', '\r', ' ']).to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fenced_python_blocks_in_order() {
        let reply = "I'll look first.\n```python\nprint(get_pose())\n```\nthen move:\n```py\nmove_to(1, 2)\n```\n";
        assert_eq!(
            code_actions(reply),
            vec!["print(get_pose())", "move_to(1, 2)"]
        );
    }

    #[test]
    fn bare_fences_count_other_languages_do_not() {
        let reply = "```\nx = 1\n```\n```json\n{\"a\": 1}\n```\n```bash\nls\n```";
        assert_eq!(code_actions(reply), vec!["x = 1"]);
    }

    #[test]
    fn execute_tags_and_indentation_are_kept() {
        let reply = "<execute>\nfor i in range(2):\n    print(i)\n</execute> done";
        assert_eq!(
            code_actions(reply),
            vec!["for i in range(2):\n    print(i)"]
        );
    }

    #[test]
    fn an_unclosed_block_at_the_end_still_counts_and_no_code_is_empty() {
        assert_eq!(code_actions("```python\nstop()\n"), vec!["stop()"]);
        assert!(code_actions("The task is done; nothing to run.").is_empty());
        assert!(code_actions("```python\n\n```").is_empty());
    }

    #[test]
    fn backticks_inside_code_do_not_end_the_block() {
        let reply = "```python\ns = 'a ``` b'\nprint(s)\n```";
        assert_eq!(code_actions(reply), vec!["s = 'a ``` b'\nprint(s)"]);
    }
}
