//! `codeact repl`: type code actions, see live output and observations.
//! Multi-line input like Python's own prompt, history, Ctrl-C interrupts the
//! running action (not the program), Ctrl-D quits.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;
use rustyline::error::ReadlineError;
use rustyline::{Completer, Editor, Helper, Highlighter, Hinter, Validator};

use super::shutdown::{signals, Shutdown};
use super::ExecOpts;
use crate::executor::{
    CallOutcome, Observation, Picture, PreviewMode, Previewed, Session, Status, Stream,
};

const HELP: &str = "\
Type Python; skills are functions in your namespace (see :skills).
A block (a line ending in ':') ends with an empty line, or at once with a
syntax error. Variables persist.
  :skills        the robot API text, with the skill library's functions
  :save NAME     save the function NAME in the skill library (save_skill)
  :timeout S     set the time limit of each action, seconds
  :reset         start a fresh worker (variables are lost)
  :clear-e-stop  clear a ROS robot's e-stop (a person's decision; code cannot)
  :protections   the sandbox measures in force
  :help          this text
  :quit          leave (or Ctrl-D)
Ctrl-C interrupts a running action; at the prompt it clears the line.
Pictures an action attaches with show() are saved (in --workspace's
pictures/ folder, else in ~/.local/state/codeact/pictures/<time>/, which
stays after exit) and, on a terminal, drawn inline (CODEACT_INLINE_IMAGES=0: not).
With --preview show, each action is rehearsed on a twin first: its verdict
and predicted path are shown, and it runs only if you answer y.";

#[derive(Helper, Completer, Hinter, Highlighter, Validator)]
struct PythonInput;

/// Reads one action as Python's own prompt does: `[n]>>> ` for its first
/// line and a `...` continuation prompt for each further line, until the
/// input is complete ([`is_complete`]). `readline` shows a prompt and
/// returns a line (a paste may bring several at once).
fn read_action(
    n: usize,
    mut readline: impl FnMut(&str) -> rustyline::Result<String>,
) -> rustyline::Result<String> {
    let first = format!("[{n}]>>> ");
    let more = format!("{:>width$} ", "...", width = first.len() - 1);
    let mut input = readline(&first)?;
    while !is_complete(&input) && !is_invalid(&input) {
        let line = match readline(&more) {
            Ok(line) => line,
            // The input ended inside an open bracket or block: run what
            // there is, so Python says what is wrong instead of nothing.
            Err(ReadlineError::Eof) => return Ok(input),
            Err(e) => return Err(e),
        };
        input.push('\n');
        input.push_str(&line);
    }
    Ok(input)
}

/// Whether Python already finds a syntax error in the typed text that no
/// further line can mend (`codeop`, which Python's own prompt uses), so the
/// action is run at once and the error shows without waiting for the block
/// or bracket to close. The text is only compiled, never run, here; it runs
/// in the worker.
fn is_invalid(input: &str) -> bool {
    use pyo3::exceptions::{PyOverflowError, PySyntaxError, PyValueError};
    use pyo3::prelude::*;
    Python::attach(|py| {
        let compiled = py.import("codeop").and_then(|codeop| {
            // The checks' own warnings (an odd escape) are the action's to show.
            py.import("warnings")?
                .call_method1("simplefilter", ("ignore",))?;
            codeop.call_method1("compile_command", (input, "<input>", "exec"))
        });
        match compiled {
            Ok(_) => false,
            Err(e) => {
                e.is_instance_of::<PySyntaxError>(py)
                    || e.is_instance_of::<PyValueError>(py)
                    || e.is_instance_of::<PyOverflowError>(py)
            }
        }
    })
}

/// Whether the typed text is a complete action: brackets and triple-quoted
/// strings closed, no trailing backslash, and a block (a line ending in ':')
/// finished by an empty line, as at Python's own prompt.
pub fn is_complete(input: &str) -> bool {
    if input.trim().is_empty() || input.trim_start().starts_with(':') {
        return true;
    }
    let mut depth: i32 = 0;
    let mut chars = input.chars().peekable();
    let mut quote: Option<(char, bool)> = None; // (quote char, triple)
    let mut last_significant = ' ';
    let mut opened_block = false;
    let mut line_last = ' ';
    while let Some(c) = chars.next() {
        if let Some((q, triple)) = quote {
            if c == '\\' {
                chars.next();
            } else if c == q {
                if !triple {
                    quote = None;
                } else if chars.peek() == Some(&q) {
                    chars.next();
                    if chars.peek() == Some(&q) {
                        chars.next();
                        quote = None;
                    }
                }
            } else if c == '\n' && !triple {
                quote = None; // an unterminated one-line string: Python reports it
            }
            continue;
        }
        match c {
            '#' => {
                while chars.peek().is_some_and(|&n| n != '\n') {
                    chars.next();
                }
            }
            '\'' | '"' => {
                let triple = chars.peek() == Some(&c) && {
                    let mut ahead = chars.clone();
                    ahead.next();
                    ahead.peek() == Some(&c)
                };
                if triple {
                    chars.next();
                    chars.next();
                }
                quote = Some((c, triple));
            }
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => depth -= 1,
            '\n' => {
                if line_last == ':' && depth == 0 {
                    opened_block = true;
                }
                line_last = ' ';
                continue;
            }
            _ => {}
        }
        if !c.is_whitespace() && c != '#' {
            last_significant = c;
            line_last = c;
        }
    }
    if quote.is_some_and(|(_, triple)| triple) || depth > 0 || last_significant == '\\' {
        return false;
    }
    if line_last == ':' {
        return false;
    }
    // A block is finished by an empty last line.
    !opened_block
        || input.ends_with('\n')
        || input.lines().last().is_some_and(|l| l.trim().is_empty())
}

struct Style {
    color: bool,
}

impl Style {
    fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }
}

fn history_path() -> Option<PathBuf> {
    let dir = state_dir()?;
    std::fs::create_dir_all(&dir).ok()?;
    Some(dir.join("repl_history"))
}

/// codeact's folder under `$XDG_STATE_HOME` (`~/.local/state`).
fn state_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_STATE_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state")))?;
    Some(base.join("codeact"))
}

/// Where the session's pictures are kept: the workspace's `pictures/` when
/// the user named the workspace; else a folder of this session's own under
/// the state folder, since a temporary workspace goes at exit.
fn pictures_dir(session: &Session) -> PathBuf {
    if session.config().workspace.is_some() {
        return session.workspace().join("pictures");
    }
    match state_dir() {
        Some(dir) => dir
            .join("pictures")
            .join(crate::agent::transcript::timestamp()),
        None => session.workspace().join("pictures"),
    }
}

/// Runs the REPL until Ctrl-D or `:quit`.
pub fn run(opts: &ExecOpts) -> Result<ExitCode> {
    let mut started = opts.start()?;
    // On a terminal Ctrl-C interrupts the action (below) and clears the line
    // at the prompt; SIGTERM, and SIGINT when the input is piped, end the REPL in order.
    let shutdown = Shutdown::install(
        &signals(!std::io::stdin().is_terminal()),
        started.ends(None),
    )?;
    let clear_e_stop = started.clear_e_stop.clone();
    let session = &mut started.session;
    let pictures_at = pictures_dir(session);
    let style = Style {
        color: std::io::stdout().is_terminal(),
    };
    let inline = std::io::stdout().is_terminal()
        && std::env::var("CODEACT_INLINE_IMAGES").map_or(true, |v| v != "0");
    let interrupter = session.interrupter();
    // While an action runs the terminal is in normal mode, so Ctrl-C is a
    // SIGINT: turn it into an interrupt of the action. At the prompt the line
    // editor reads Ctrl-C as a key instead.
    // SAFETY: the handler only writes to an eventfd, which is async-signal-safe.
    unsafe {
        signal_hook::low_level::register(signal_hook::consts::SIGINT, move || {
            interrupter.interrupt()
        })?;
    }
    let mut editor: Editor<PythonInput, rustyline::history::DefaultHistory> = Editor::new()?;
    editor.set_helper(Some(PythonInput));
    let history = history_path();
    if let Some(path) = &history {
        let _ = editor.load_history(path);
    }
    println!(
        "codeact repl: Python {} with {} skills ({}). :help for help, Ctrl-D to quit.",
        session
            .python_version()
            .split_whitespace()
            .next()
            .unwrap_or("?"),
        session.skills().len(),
        session.skills().title
    );
    library_banner(session);
    let mut timeout: Option<Duration> = None;
    let mut n = 1;
    loop {
        if shutdown.requested().is_some() {
            break;
        }
        let input = match read_action(n, |prompt| editor.readline(prompt)) {
            Ok(line) => line,
            Err(ReadlineError::Interrupted) => continue,
            Err(ReadlineError::Eof) => break,
            Err(e) => return Err(e.into()),
        };
        if input.trim().is_empty() {
            continue;
        }
        let _ = editor.add_history_entry(input.trim_end());
        let command = input.trim();
        let mut code = input.clone();
        if let Some(cmd) = command.strip_prefix(':') {
            let mut words = cmd.split_whitespace();
            match (words.next(), words.next()) {
                (Some("quit" | "q" | "exit"), _) => break,
                (Some("help" | "h"), _) => println!("{HELP}"),
                (Some("skills"), _) => print!("{}", session.api_text()),
                (Some("save"), Some(name)) if robot_api::is_python_name(name) => {
                    code = format!("save_skill({name})");
                }
                (Some("save"), _) => {
                    eprintln!("usage: :save NAME, where NAME is a function you defined with def")
                }
                (Some("protections"), _) => {
                    for p in session.protections() {
                        println!(
                            "  [{}] {:<14} {}",
                            if p.active { "ok" } else { "MISSING" },
                            p.name,
                            p.detail
                        );
                    }
                }
                (Some("clear-e-stop"), _) => match &clear_e_stop {
                    Some(clear) if clear() => println!("e-stop cleared: the robot may move again"),
                    Some(_) => println!("the e-stop was not engaged"),
                    None => {
                        eprintln!("this robot has no e-stop latch to clear (only ROS robots do)")
                    }
                },
                (Some("reset"), _) => match session.reset() {
                    Ok(()) => println!("a fresh worker is ready; variables are gone"),
                    Err(e) => eprintln!("{}", style.paint("31", &format!("reset failed: {e}"))),
                },
                (Some("timeout"), Some(v)) => match v.parse::<f64>() {
                    Ok(s) if crate::executor::valid_time_limit(s) => {
                        timeout = Some(Duration::from_secs_f64(s));
                        println!("actions now stop after {s} s");
                    }
                    _ => eprintln!("usage: :timeout SECONDS (between 0 and 604800)"),
                },
                _ => eprintln!("unknown command {command:?}; :help lists them"),
            }
            if code == input {
                continue;
            }
        }
        let mut on_output = |stream: Stream, text: &str| match stream {
            Stream::Stdout => {
                print!("{text}");
                let _ = std::io::stdout().flush();
            }
            Stream::Stderr => {
                eprint!("{text}");
            }
        };
        let ran = match session.preview(&code) {
            Err(e) => Err(e),
            Ok(None) => session.execute(&code, timeout, &mut on_output),
            Ok(Some(p)) if p.mode() == PreviewMode::Show => {
                let ask = |prompt: &str| editor.readline(prompt).ok();
                if !show_preview(&p, session.next_action(), &pictures_at, inline, &style, ask) {
                    println!("not run");
                    continue;
                }
                session.execute_previewed(p, timeout, &mut on_output)
            }
            // The gate: a refusal is the observation, with the verdict.
            Ok(Some(p)) => session.execute_previewed(p, timeout, &mut on_output),
        };
        match ran {
            Ok(obs) => {
                show(&obs, &style);
                pictures(&obs, &pictures_at, inline, &style);
            }
            Err(e) => eprintln!("{}", style.paint("31", &format!("error: {e}"))),
        }
        n += 1;
    }
    shutdown.ending();
    if let Some(path) = &history {
        let _ = editor.save_history(path);
    }
    if pictures_at.is_dir() {
        println!(
            "the pictures of this session stay in {}",
            pictures_at.display()
        );
    }
    started.end(&shutdown)
}

/// Says at start what the skill library gave, and which modules did not load.
fn library_banner(session: &Session) {
    let library = session.library();
    let Some(dir) = &library.dir else {
        return;
    };
    let names = library.names();
    if names.is_empty() {
        println!(
            "skill library {}: empty (save_skill(fn) or :save NAME adds to it)",
            dir.display()
        );
    } else {
        println!("skill library {}: {}", dir.display(), names.join(", "));
    }
    eprint!("{}", library.broken_text());
}

/// Saves each picture the action attached in the workspace's `pictures/`
/// folder, says where, and draws it on the terminal when `inline`.
fn pictures(obs: &Observation, dir: &Path, inline: bool, style: &Style) {
    for (k, picture) in obs.images.iter().enumerate() {
        let line = picture.describe(k + 1);
        match save_picture(picture, dir, obs.action, k + 1) {
            Ok(path) => println!("{} {}", style.paint("35", &line), path.display()),
            Err(e) => eprintln!("{}", style.paint("31", &format!("{line} not saved: {e}"))),
        }
        if inline {
            draw(picture, style);
        }
    }
}

/// Shows an action's rehearsal (the verdict, the predicted path saved and
/// drawn) and asks whether it runs; `ask` shows a prompt and reads the answer.
fn show_preview(
    previewed: &Previewed,
    action: u64,
    dir: &Path,
    inline: bool,
    style: &Style,
    mut ask: impl FnMut(&str) -> Option<String>,
) -> bool {
    println!("{}", style.paint("35", &previewed.text()));
    if let Some(picture) = previewed.picture() {
        match save_picture(&picture, dir, action, 0) {
            Ok(path) => println!(
                "{} {}",
                style.paint("35", "predicted path:"),
                path.display()
            ),
            Err(e) => eprintln!(
                "{}",
                style.paint("31", &format!("the predicted path was not saved: {e}"))
            ),
        }
        if inline {
            draw(&picture, style);
        }
    }
    loop {
        match ask("run it on the robot? [y/n] ").as_deref().map(str::trim) {
            Some("y" | "yes") => return true,
            Some("n" | "no") | None => return false,
            Some(_) => println!("answer y or n"),
        }
    }
}

/// `action{n}-{k}.png` (or `.jpg`) in `dir`.
fn save_picture(picture: &Picture, dir: &Path, action: u64, k: usize) -> std::io::Result<PathBuf> {
    let ext = picture.mime.extension();
    std::fs::create_dir_all(dir)?;
    let path = dir.join(format!("action{action}-{k}.{ext}"));
    std::fs::write(&path, &picture.data)?;
    Ok(path)
}

/// Draws a picture in the terminal: the kitty or iTerm image protocol where
/// the terminal has one, coloured half blocks elsewhere; at most 60 columns.
fn draw(picture: &Picture, style: &Style) {
    let image = match image::load_from_memory(&picture.data) {
        Ok(image) => image,
        Err(e) => {
            eprintln!(
                "{}",
                style.paint("33", &format!("the picture cannot be drawn: {e}"))
            );
            return;
        }
    };
    let (columns, _) = viuer::terminal_size();
    let config = viuer::Config {
        absolute_offset: false,
        // A terminal that does not say its size (some ptys) gets the most.
        width: Some(if columns < 8 {
            60
        } else {
            u32::from(columns).min(60)
        }),
        // Only where the environment names a kitty-protocol terminal: asking
        // the terminal instead reads stdin, and a terminal that never answers
        // (a pipe into a pty, a serial console) would swallow the next lines.
        use_kitty: kitty_terminal(),
        ..viuer::Config::default()
    };
    if let Err(e) = viuer::print(&image, &config) {
        eprintln!(
            "{}",
            style.paint("33", &format!("the picture cannot be drawn: {e}"))
        );
    }
}

/// Whether the environment says the terminal speaks kitty's image protocol.
fn kitty_terminal() -> bool {
    let var = |k: &str| std::env::var(k).unwrap_or_default();
    std::env::var_os("KITTY_WINDOW_ID").is_some()
        || var("TERM") == "xterm-kitty"
        || matches!(var("TERM_PROGRAM").as_str(), "WezTerm" | "ghostty")
}

/// What follows the live output: result, traceback, skill calls, notes, status.
fn show(obs: &Observation, style: &Style) {
    let streamed: String = obs.output.iter().map(|c| c.text.as_str()).collect();
    if !streamed.is_empty() && !streamed.ends_with('\n') {
        println!();
    }
    if obs.output_cut_bytes > 0 {
        println!(
            "{}",
            style.paint(
                "2",
                &format!(
                    "[... {} cut; the end of the output:]",
                    crate::executor::observation::human_bytes(obs.output_cut_bytes)
                )
            )
        );
        let tail: String = obs.output_tail.iter().map(|c| c.text.as_str()).collect();
        print!("{tail}");
    }
    if let Some(result) = &obs.result {
        println!("{} {result}", style.paint("32", "Out:"));
    }
    if let Some(err) = &obs.error {
        eprint!("{}", style.paint("31", &err.traceback));
    }
    if !obs.skill_calls.is_empty() {
        let failed = obs
            .skill_calls
            .iter()
            .filter(|c| c.outcome != CallOutcome::Ok)
            .count();
        println!(
            "{}",
            style.paint(
                "2",
                &format!(
                    "[{} skill call{}, {failed} failed]",
                    obs.skill_calls.len(),
                    if obs.skill_calls.len() == 1 { "" } else { "s" }
                )
            )
        );
    }
    for note in &obs.notes {
        println!("{}", style.paint("33", &format!("note: {note}")));
    }
    if obs.status == Status::Timeout {
        println!(
            "{}",
            style.paint(
                "33",
                "note: `:timeout SECONDS` gives actions a longer time limit"
            )
        );
    }
    for event in &obs.robot_events {
        println!("{}", style.paint("36", &format!("robot: {event}")));
    }
    if !obs.skill_calls.is_empty() {
        if let Some(state) = &obs.robot_state {
            let time = obs
                .robot_time
                .map_or(String::new(), |t| format!(", t={t:.1}s"));
            println!("{}", style.paint("2", &format!("[{state}{time}]")));
        }
    }
    if let Some(why) = &obs.worker_restart {
        println!(
            "{}",
            style.paint(
                "33",
                &format!("worker restarted ({why}); earlier variables are gone")
            )
        );
    }
    if obs.status != Status::Ok || obs.duration_ms > 1000.0 {
        let mut line = format!("[{} in {:.1} ms", obs.status.as_str(), obs.duration_ms);
        if obs.safe_stop {
            line.push_str("; robot safe-stopped");
        }
        line.push(']');
        println!("{}", style.paint("2", &line));
    }
}

#[cfg(test)]
mod tests {
    use super::{is_complete, read_action};

    #[test]
    fn blocks_are_read_with_a_continuation_prompt() {
        let mut lines = vec!["for i in range(3):", "    print(i)", ""].into_iter();
        let mut prompts = Vec::new();
        let action = read_action(4, |p| {
            prompts.push(p.to_owned());
            Ok(lines.next().unwrap().to_owned())
        })
        .unwrap();
        assert_eq!(action, "for i in range(3):\n    print(i)\n");
        assert_eq!(prompts, ["[4]>>> ", "   ... ", "   ... "]);
        // One complete line needs no more.
        let action = read_action(1, |_| Ok("x = 1".into())).unwrap();
        assert_eq!(action, "x = 1");
        // Input that ends inside a bracket is run as it is (Python says why).
        let mut lines = vec![
            Ok("print(1".to_owned()),
            Err(rustyline::error::ReadlineError::Eof),
        ]
        .into_iter();
        let action = read_action(1, |_| lines.next().unwrap()).unwrap();
        assert_eq!(action, "print(1");
        // A syntax error inside an open block or bracket ends the input at
        // once: no line asked for after it.
        for typed in [
            vec!["for i in range(3):", "    x = = 1"],
            vec!["foo(1,", "  2 3,"],
            vec!["if True:", "    print(1)", "  else:"],
        ] {
            let mut lines = typed.clone().into_iter();
            let action = read_action(1, |_| Ok(lines.next().expect("no more lines").to_owned()));
            assert_eq!(action.unwrap(), typed.join("\n"));
        }
        // Open but sound input still waits for more.
        assert!(!super::is_invalid("for i in range(3):\n    x = 1"));
        assert!(!super::is_invalid("foo(1,\n  2,"));
        assert!(!super::is_invalid("s = '''abc"));
    }

    #[test]
    fn input_is_complete_like_at_pythons_prompt() {
        assert!(is_complete("x = 1"));
        assert!(is_complete("print(')')"));
        assert!(!is_complete("foo(1,"));
        assert!(is_complete("foo(1,\n 2)"));
        assert!(!is_complete("for i in range(3):"));
        assert!(!is_complete("for i in range(3):\n    print(i)"));
        assert!(is_complete("for i in range(3):\n    print(i)\n"));
        assert!(!is_complete("s = '''abc"));
        assert!(is_complete("s = '''a\nb'''"));
        assert!(!is_complete("x = 1 + \\"));
        assert!(is_complete("d = {'a': 1}  # a comment: with colon"));
        assert!(is_complete(":reset"));
    }
}
