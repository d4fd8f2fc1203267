//! The system prompt: the rules of the loop, the robot API text rendered from
//! the live skill registry, and a short summary of the world.

use robot_api::registry::world_section;
use robot_api::SkillSet;

use super::actions::ActionFormat;

/// The rules the model works by. Kept short: every token is paid each turn.
const RULES: &str = "You control a robot by writing Python code. Each of your replies may contain code in ```python blocks; the blocks run in order, in one persistent Python session, and you then see what they printed, the value of a block's last expression, the errors with tracebacks, the skill calls made and what happened to the robot.

Rules:
- Variables, imports and functions persist between turns: build on them.
- Print what you need to see; the observation shows only printed output, the last expression's value, errors and robot events.
- Use loops and conditions to do several steps in one block; check results, and handle robot errors with try/except when you can recover.
- Units are metres, radians and seconds.
- When the task is complete (or you are sure it cannot be done), call done(summary) with a short summary of what happened. Do not call it before checking that the task is really done.";

/// The rules for JSON tool calls.
const RULES_JSON: &str = "You control a robot by calling the tools you are given; each tool is one robot skill. You may call several tools in one reply; they run in order, and you then see each call's result: its value, errors, and what happened to the robot.

Rules:
- Units are metres, radians and seconds.
- When the task is complete (or you are sure it cannot be done), call the done tool with a short summary of what happened. Do not call it before checking that the task is really done.";

/// The rules for text actions.
const RULES_TEXT: &str = "You control a robot one skill call at a time. End each reply with exactly one line of the form
Action: skill_name {\"argument\": value, ...}
(the arguments as a JSON object; write {} or nothing when there are none). The skill runs, and you then see its result: its value, errors, and what happened to the robot.

Rules:
- One action per reply; only the first Action line counts.
- Units are metres, radians and seconds.
- When the task is complete (or you are sure it cannot be done), reply with: Action: done {\"summary\": \"...\"}. Do not do so before checking that the task is really done.";

/// The system prompt for `skills` (which must include `done`), with an
/// optional world summary, for code actions.
pub fn system_prompt(skills: &SkillSet, world_summary: Option<&str>) -> String {
    system_prompt_for(ActionFormat::Code, skills, world_summary)
}

/// The system prompt for an action format. Tool calls get their skill
/// descriptions with the tool schemas, so only the rules and the world here.
pub fn system_prompt_for(
    format: ActionFormat,
    skills: &SkillSet,
    world_summary: Option<&str>,
) -> String {
    let mut out = String::from(match format {
        ActionFormat::Code => RULES,
        ActionFormat::Json => RULES_JSON,
        ActionFormat::Text => RULES_TEXT,
    });
    out.push_str("\n\n");
    if format != ActionFormat::Json {
        out.push_str(&skills.api_text());
    }
    if let Some(summary) = world_summary {
        out.push_str(&world_section(summary));
    }
    out
}

/// The first user message: the task.
pub fn task_message(task: &str) -> String {
    format!(
        "Task: {}\n\nStart by looking at the robot's situation, then act.",
        task.trim()
    )
}

/// What the loop says when a reply has no code.
pub const NO_CODE_NUDGE: &str = "Your reply contained no code. Write Python in a ```python block to act, or call done(summary) in a block when the task is finished.";

/// What the loop says when a reply has no action, per format.
pub fn nudge(format: ActionFormat) -> &'static str {
    match format {
        ActionFormat::Code => NO_CODE_NUDGE,
        ActionFormat::Json => "Your reply called no tool. Call a tool to act, or the done tool when the task is finished.",
        ActionFormat::Text => "Your reply had no Action line. End your reply with one line: Action: skill_name {\"argument\": value}",
    }
}

/// What the loop says when the same action gives the same result again.
pub const STUCK_NUDGE: &str = "You ran the same code with the same result several times. Something is not working: read the last observation carefully and try a different approach.";
