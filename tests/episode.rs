//! The episode's steps (ask, parse, act, observe, judge) called one by one
//! and as a whole, with an in-process model that answers from a script, and
//! a real session driving the simulator.

mod common;

use std::sync::Arc;

use codeact::agent::actions::ActionFormat;
use codeact::agent::episode::{
    parse, Agent, Approver, Budget, Quiet, Reporter, Review, StopReason,
};
use codeact::agent::llm::scripted::Scripted;
use codeact::agent::llm::{Completion, LlmError, Message, Usage};
use codeact::executor::{ExecutorConfig, Preview, PreviewMode, Session};

/// A model answering from `replies` (an `Err` fails that request), each
/// reply counted as 10 tokens in and 5 out.
fn scripted(replies: &[Result<&str, &str>]) -> Scripted {
    let replies = replies.iter().map(|r| match r {
        Ok(text) => Ok(Completion {
            usage: Usage {
                input_tokens: 10,
                output_tokens: 5,
            },
            ..Completion::text(text)
        }),
        Err(why) => Err(LlmError::Malformed((*why).into())),
    });
    Scripted::new("scripted", replies.collect::<Vec<_>>())
}

/// The last user message of request `n` (from 0).
fn last_user_message(model: &Scripted, n: usize) -> String {
    model.asked()[n].last().unwrap().content.clone()
}

/// A session with the robot skills and `done`, and the agent set up for code.
fn setup() -> (Session, Agent, Arc<sim::SimRobot>) {
    let world = sim::load("small_room").unwrap();
    let robot = Arc::new(sim::SimRobot::new(Arc::new(world)));
    let mut skills = robot_api::skills::robot_skills(robot.clone());
    let agent = Agent::new(&mut skills, ActionFormat::Code, None);
    let config = ExecutorConfig {
        worker_exe: Some(common::worker_exe()),
        ..ExecutorConfig::default()
    };
    (Session::start(config, skills).unwrap(), agent, robot)
}

fn block(code: &str) -> String {
    format!("```python\n{code}\n```")
}

#[test]
fn each_step_can_be_called_alone() {
    let (mut session, agent, robot) = setup();
    let start = robot.sim().snapshot().pose;
    let reply = format!(
        "{}\n{}",
        block("x = get_pose().x\nprint(round(x, 1))"),
        block("done(f'at {x:.1}')")
    );
    let model = scripted(&[Ok(&reply)]);
    let mut episode = agent.episode(&model, &mut session, Budget::default());

    // ask
    let completion = episode
        .ask(1, &[Message::user("go")], &mut Quiet)
        .expect("the model answers");
    assert_eq!(completion.text, reply);
    // parse
    let (_, planned) = parse(ActionFormat::Code, episode.session.skills(), &completion);
    assert_eq!(planned.len(), 2);
    // act and observe
    let first = episode.act(1, 0, &planned[0], &mut Quiet);
    let x = format!("{:.1}", start.0);
    assert!(first.text.starts_with(&format!("{x}\n")), "{}", first.text);
    assert!(!first.stop_turn && first.done.is_none());
    assert_eq!(first.skill_calls, 1);
    // Variables persist between actions; done ends the turn with its summary.
    let second = episode.act(1, 1, &planned[1], &mut Quiet);
    assert_eq!(second.done, Some(format!("at {x}")));
    assert!(second.stop_turn);
    // A failed ask says why.
    let why = episode.ask(2, &[Message::user("again")], &mut Quiet);
    assert!(why
        .unwrap_err()
        .to_string()
        .contains("the script has ended"));
    drop(episode);
    assert_eq!(robot.sim().snapshot().pose, start, "nothing drove");
}

#[test]
fn a_failing_block_stops_its_turn_and_the_model_is_told_then_done_ends_the_episode() {
    let (mut session, agent, _robot) = setup();
    let first = format!("{}\n{}", block("1 / 0"), block("print('never')"));
    let second = block("done('recovered')");
    let model = scripted(&[Ok(&first), Ok("no code, just words"), Ok(&second)]);
    let outcome = agent
        .episode(&model, &mut session, Budget::default())
        .run("test", &mut Quiet);
    assert!(outcome.claimed_done);
    assert_eq!(outcome.reason, StopReason::Done);
    assert_eq!(outcome.summary.as_deref(), Some("recovered"));
    assert_eq!(outcome.turns, 3);
    assert_eq!(outcome.usage.total(), 45);
    assert_eq!(
        outcome.safe_stops, 1,
        "the failed block called the safe stop"
    );
    let told = last_user_message(&model, 1);
    assert!(told.contains("ZeroDivisionError"), "{told}");
    assert!(
        told.contains("[blocks 2 to 2 were not run: block 1 did not end normally]"),
        "{told}"
    );
    assert!(!told.contains("never"));
    // A reply without code is answered with the nudge.
    assert!(last_user_message(&model, 2).contains("no code"));
}

#[test]
fn the_same_turn_again_and_again_is_nudged_then_stopped() {
    let (mut session, agent, _robot) = setup();
    let same = block("print('hello')");
    let model = scripted(&[Ok(same.as_str()); 6]);
    let outcome = agent
        .episode(&model, &mut session, Budget::default())
        .run("test", &mut Quiet);
    assert_eq!(outcome.reason, StopReason::Stuck);
    assert_eq!(outcome.turns, 4);
    assert!(last_user_message(&model, 3).contains("same code with the same result"));
}

#[test]
fn budgets_and_a_failing_model_end_the_episode_with_their_reason() {
    let (mut session, agent, _robot) = setup();
    let model = scripted(&[Ok(&block("x = 1")), Ok(&block("x = 2"))]);
    let budget = Budget {
        max_turns: 2,
        ..Budget::default()
    };
    let outcome = agent
        .episode(&model, &mut session, budget)
        .run("test", &mut Quiet);
    assert_eq!((outcome.reason, outcome.turns), (StopReason::MaxTurns, 2));

    let model = scripted(&[Err("the endpoint broke")]);
    let outcome = agent
        .episode(&model, &mut session, Budget::default())
        .run("test", &mut Quiet);
    assert!(
        matches!(&outcome.reason, StopReason::LlmFailed(why) if why.contains("the endpoint broke")),
        "{:?}",
        outcome.reason
    );
}

/// Refuses every action that drives; lets the rest run.
struct NoDriving {
    reviewed: usize,
}

impl Approver for NoDriving {
    fn review(
        &mut self,
        _turn: usize,
        _index: usize,
        code: &str,
        _previewed: Option<&codeact::executor::Previewed>,
    ) -> Review {
        self.reviewed += 1;
        if code.contains("drive(") {
            Review::Reject("no driving today".into())
        } else {
            Review::Run(code.to_owned())
        }
    }
}

/// Counts what the loop reports.
#[derive(Default)]
struct Counted {
    actions: usize,
    observations: usize,
}

impl Reporter for Counted {
    fn action(&mut self, _index: usize, _code: &str) {
        self.actions += 1;
    }
    fn observation(&mut self, _o: &codeact::executor::Observation, _shown: &str) {
        self.observations += 1;
    }
}

#[test]
fn a_refused_action_does_not_run_and_the_model_hears_why() {
    let (mut session, agent, robot) = setup();
    let start = robot.sim().snapshot().pose;
    let model = scripted(&[Ok(&block("drive(0.5, 0, 2)")), Ok(&block("done('ok')"))]);
    let mut person = NoDriving { reviewed: 0 };
    let mut counted = Counted::default();
    let mut episode = agent.episode(&model, &mut session, Budget::default());
    episode.approver = Some(&mut person);
    let outcome = episode.run("test", &mut counted);
    assert!(outcome.claimed_done);
    assert_eq!(person.reviewed, 2);
    assert_eq!((counted.actions, counted.observations), (1, 1));
    let told = last_user_message(&model, 1);
    assert!(
        told.contains("did not allow block 1 to run: no driving today"),
        "{told}"
    );
    assert_eq!(robot.sim().snapshot().pose, start, "the robot did not move");
}

/// Approves what the rehearsal passed, refuses what it found would collide,
/// and keeps what it was shown.
#[derive(Default)]
struct ReadsTheVerdict {
    shown: Vec<Option<String>>,
}

impl Approver for ReadsTheVerdict {
    fn review(
        &mut self,
        _turn: usize,
        _index: usize,
        code: &str,
        previewed: Option<&codeact::executor::Previewed>,
    ) -> Review {
        let text = previewed.map(|p| p.text());
        let collides = text.as_deref().is_some_and(|t| t.contains("hit something"));
        self.shown.push(text);
        if collides {
            Review::Reject("the rehearsal drives into a wall".into())
        } else {
            Review::Run(code.to_owned())
        }
    }
}

/// Counts the verdicts the loop reports before actions run.
#[derive(Default)]
struct Verdicts(usize);

impl Reporter for Verdicts {
    fn preview(&mut self, _index: usize, _previewed: &codeact::executor::Previewed) {
        self.0 += 1;
    }
}

fn previewed_setup(mode: PreviewMode) -> (Session, Agent, Arc<sim::SimRobot>) {
    let (mut session, agent, robot) = setup();
    session.set_preview(Some(Preview {
        mode,
        twins: Arc::new(sim::twin::TwinOf::robot(robot.clone())),
        limit: std::time::Duration::from_secs(10),
    }));
    (session, agent, robot)
}

/// Backwards into small_room's wall behind the robot's start.
const INTO_THE_WALL: &str = "drive(-0.5, 0, 4)";

#[test]
fn with_preview_show_the_person_approving_sees_the_verdict_first() {
    let (mut session, agent, robot) = previewed_setup(PreviewMode::Show);
    let start = robot.sim().snapshot().pose;
    let model = scripted(&[Ok(&block(INTO_THE_WALL)), Ok(&block("done('ok')"))]);
    let mut person = ReadsTheVerdict::default();
    let mut verdicts = Verdicts::default();
    let mut episode = agent.episode(&model, &mut session, Budget::default());
    episode.approver = Some(&mut person);
    let outcome = episode.run("test", &mut verdicts);
    assert!(outcome.claimed_done);
    assert_eq!(verdicts.0, 2, "each action's verdict was reported first");
    assert_eq!(person.shown.len(), 2);
    let first = person.shown[0].as_deref().expect("a verdict");
    assert!(first.contains("would hit something"), "{first}");
    let told = last_user_message(&model, 1);
    assert!(
        told.contains("did not allow block 1 to run: the rehearsal drives into a wall"),
        "{told}"
    );
    assert_eq!(robot.sim().snapshot().pose, start, "the robot did not move");
}

#[test]
fn with_preview_gate_a_refused_action_is_not_put_to_the_person() {
    let (mut session, agent, robot) = previewed_setup(PreviewMode::Gate);
    let start = robot.sim().snapshot().pose;
    let model = scripted(&[Ok(&block(INTO_THE_WALL)), Ok(&block("done('ok')"))]);
    let mut person = ReadsTheVerdict::default();
    let mut episode = agent.episode(&model, &mut session, Budget::default());
    episode.approver = Some(&mut person);
    let outcome = episode.run("test", &mut Verdicts::default());
    assert!(outcome.claimed_done);
    assert_eq!(person.shown.len(), 1, "only done() was put to the person");
    let told = last_user_message(&model, 1);
    assert!(told.contains("PreviewRefused"), "{told}");
    assert_eq!(robot.sim().snapshot().pose, start, "the robot did not move");
}
