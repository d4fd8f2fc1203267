//! Pictures through the agent loop: what `show()` attaches reaches a vision
//! model in both wire formats (OpenAI image parts with data URLs, Anthropic
//! image blocks), scaled, counted, saved in the run folder and referenced
//! from the transcript; a model that refuses pictures is handled.

mod common;

use common::mock_llm::{MockLlm, Responder, Step};

use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use base64::Engine;
use serde_json::{json, Value as Json};

struct Run {
    code: i32,
    stdout: String,
    dir: std::path::PathBuf,
    records: Vec<Json>,
    _tmp: tempfile::TempDir,
}

/// `codeact run` in small_room against the mock, with `extra` flags.
fn run(provider: &str, mock: &MockLlm, extra: &[&str]) -> Run {
    let tmp = tempfile::tempdir().unwrap();
    let base = match provider {
        "anthropic" => format!("http://127.0.0.1:{}", mock.port),
        _ => format!("http://127.0.0.1:{}/v1", mock.port),
    };
    let out = Command::new(common::exe())
        .args(["run", "--world", "small_room", "--task", "look around"])
        .args([
            "--llm",
            &format!("{provider}:mock-vision"),
            "--base-url",
            &base,
        ])
        .args(["--runs-dir", tmp.path().to_str().unwrap()])
        .args(["--retry-backoff", "0.05", "--request-timeout", "5"])
        .args(extra)
        .env("OPENAI_API_KEY", "k")
        .env("ANTHROPIC_API_KEY", "k")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let dir = std::fs::read_dir(tmp.path())
        .unwrap()
        .next()
        .expect("a run folder")
        .unwrap()
        .path();
    let records = codeact::agent::transcript::read(&dir).expect("a transcript");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: format!(
            "{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
        dir,
        records,
        _tmp: tmp,
    }
}

/// Width and height of PNG bytes, decoded.
fn png_size(data: &[u8]) -> (u32, u32) {
    let decoder = png::Decoder::new(std::io::Cursor::new(data));
    let reader = decoder.read_info().expect("a PNG that decodes");
    let info = reader.info();
    (info.width, info.height)
}

fn unbase64(text: &str) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .unwrap()
}

/// The data URLs in an OpenAI request's messages, in order, decoded.
fn openai_images(body: &Json) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for m in body["messages"].as_array().unwrap() {
        for part in m["content"].as_array().into_iter().flatten() {
            if part["type"] == "image_url" {
                let url = part["image_url"]["url"].as_str().unwrap();
                let data = url
                    .strip_prefix("data:image/png;base64,")
                    .expect("a PNG data URL");
                out.push(unbase64(data));
            }
        }
    }
    out
}

/// The image blocks in an Anthropic request's messages, in order, decoded.
fn anthropic_images(body: &Json) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for m in body["messages"].as_array().unwrap() {
        for block in m["content"].as_array().into_iter().flatten() {
            if block["type"] == "image" {
                assert_eq!(block["source"]["type"], "base64");
                assert_eq!(block["source"]["media_type"], "image/png");
                out.push(unbase64(block["source"]["data"].as_str().unwrap()));
            }
        }
    }
    out
}

/// Shows the camera view (bytes), a wide numpy array and a broken PNG.
const SHOW: &str = "```python\nimport numpy as np\nshow(get_camera_image(), 'ahead')\na = np.zeros((100, 2000, 3), dtype=np.uint8)\na[:, :1000, 0] = 255\nshow(a, 'half red')\nshow(get_camera_image()[:40], 'cut short')\n```";

#[test]
fn pictures_reach_an_openai_model_scaled_saved_and_referenced() {
    let mock = MockLlm::start(vec![
        Step::Reply(SHOW),
        Step::Reply("```python\ndone('looked')\n```"),
    ]);
    let run = run("openai", &mock, &["--image-max-side", "500"]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    let seen = mock.seen();
    assert!(openai_images(&seen[0].body).is_empty());
    // The observation message: its text, then the two good pictures.
    let messages = seen[1].body["messages"].as_array().unwrap();
    let last = messages.last().unwrap();
    assert_eq!(last["role"], "user");
    let parts = last["content"].as_array().expect("content parts");
    assert_eq!(parts[0]["type"], "text");
    let text = parts[0]["text"].as_str().unwrap();
    assert!(text.contains("[picture 1: PNG 320x240"), "{text}");
    assert!(text.contains("half red"), "{text}");
    assert!(
        text.contains("show(): the picture could not be read") && text.contains("cut short?"),
        "a picture cut short is refused by show() itself: {text}"
    );
    let images = openai_images(&seen[1].body);
    assert_eq!(images.len(), 2, "{text}");
    assert_eq!(
        png_size(&images[0]),
        (320, 240),
        "small pictures as they are"
    );
    assert_eq!(
        png_size(&images[1]),
        (500, 25),
        "scaled to the longest side"
    );

    // Saved in the run folder, the transcript naming the files.
    let obs = run
        .records
        .iter()
        .find(|r| r["type"] == "observation")
        .unwrap();
    let refs = obs["observation"]["images"].as_array().unwrap();
    assert_eq!(refs.len(), 2, "the refused picture was never attached");
    assert!(refs[0].get("data").is_none(), "no bytes in the transcript");
    assert_eq!(refs[1]["caption"], "half red");
    assert_eq!(
        (refs[1]["width"].clone(), refs[1]["height"].clone()),
        (json!(500), json!(25))
    );
    for (r, sent) in refs[..2].iter().zip(&images) {
        let file = run.dir.join(r["file"].as_str().unwrap());
        assert_eq!(&std::fs::read(&file).unwrap(), sent, "{}", file.display());
    }
    let request = run
        .records
        .iter()
        .filter(|r| r["type"] == "request")
        .nth(1)
        .unwrap();
    let new = request["new"].as_array().unwrap();
    assert_eq!(
        new.last().unwrap()["images"][0]["file"],
        refs[0]["file"],
        "the request record refers to the same files"
    );

    // A replay makes the same pictures again and agrees.
    let replay = Command::new(common::exe())
        .args(["replay", run.dir.to_str().unwrap()])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&replay.stdout);
    assert!(
        replay.status.success(),
        "{said}\n{}",
        String::from_utf8_lossy(&replay.stderr)
    );
    assert!(said.contains("replay matches"), "{said}");
}

#[test]
fn tool_calls_for_pictures_reach_an_anthropic_model_as_image_blocks() {
    let mock = MockLlm::start(vec![
        Step::Tools(vec![
            ("get_camera_image", json!({"width": 160, "height": 120})),
            ("get_camera_image", json!({})),
        ]),
        Step::Tools(vec![("done", json!({"summary": "seen"}))]),
    ]);
    let run = run(
        "anthropic",
        &mock,
        &["--action-format", "json", "--max-images", "1"],
    );
    assert_eq!(run.code, 0, "{}", run.stdout);
    let seen = mock.seen();
    let last = seen[1].body["messages"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    let blocks = last["content"].as_array().unwrap();
    let kinds: Vec<&str> = blocks.iter().map(|b| b["type"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        ["tool_result", "tool_result", "text", "image"],
        "results first, then the note and the picture: {last}"
    );
    assert!(blocks[0]["content"]
        .as_str()
        .unwrap()
        .contains("[picture 1: PNG 160x120"));
    assert!(
        blocks[2]["text"]
            .as_str()
            .unwrap()
            .contains("first 1 pictures of this turn are not shown: at most 1 per turn"),
        "{last}"
    );
    let images = anthropic_images(&seen[1].body);
    assert_eq!(images.len(), 1);
    assert_eq!(
        png_size(&images[0]),
        (320, 240),
        "the latest picture is kept"
    );
}

/// A model without vision: answers 400 to any request with a picture.
fn blind(replies: Vec<&'static str>) -> MockLlm {
    let next = Arc::new(AtomicUsize::new(0));
    let responder: Responder = Arc::new(move |body: &Json| {
        if body.to_string().contains("\"image_url\"") {
            return Step::Status(400, None);
        }
        let i = next.fetch_add(1, Ordering::SeqCst);
        Step::Reply(replies.get(i).copied().unwrap_or("no more"))
    });
    MockLlm::answering(responder)
}

#[test]
fn a_model_that_refuses_pictures_goes_on_in_text_unless_they_are_required() {
    let replies = vec![
        "```python\nshow(get_camera_image())\n```",
        "```python\nshow(get_camera_image())\nprint('again')\n```",
        "```python\ndone('went on blind')\n```",
    ];
    let mock = blind(replies.clone());
    let auto = run("openai", &mock, &[]);
    assert_eq!(auto.code, 0, "{}", auto.stdout);
    assert!(auto.records.iter().any(|r| r["type"] == "images_refused"));
    assert!(
        auto.stdout.contains("asking again without pictures"),
        "{}",
        auto.stdout
    );
    let seen = mock.seen();
    let with_pictures = seen
        .iter()
        .filter(|s| !openai_images(&s.body).is_empty())
        .count();
    assert_eq!(with_pictures, 1, "refused once, never sent again");
    assert_eq!(seen.len(), 4, "three replies and the one refused request");

    let mock = blind(replies);
    let on = run("openai", &mock, &["--images", "on"]);
    assert_ne!(on.code, 0, "{}", on.stdout);
    let end = on.records.iter().find(|r| r["type"] == "end").unwrap();
    assert_eq!(end["outcome"]["reason"], "llm_failed", "{end}");
    assert!(
        end["outcome"]["detail"].as_str().unwrap().contains("400"),
        "{end}"
    );

    let mock = blind(vec![
        "```python\nshow(get_camera_image())\n```",
        "```python\ndone('x')\n```",
    ]);
    let off = run("openai", &mock, &["--images", "off"]);
    assert_eq!(off.code, 0, "{}", off.stdout);
    assert!(mock
        .seen()
        .iter()
        .all(|s| openai_images(&s.body).is_empty()));
    assert!(
        off.dir.join("images/turn1-block1-1.png").exists(),
        "saved even when not sent"
    );
}

#[test]
fn a_request_carries_at_most_the_latest_pictures_of_the_whole_conversation() {
    const LOOK: &str = "```python\nshow(get_camera_image(32, 24), 'a look')\n```";
    let mock = MockLlm::start(vec![
        Step::Reply(LOOK),
        Step::Reply(LOOK),
        Step::Reply(LOOK),
        Step::Reply("```python\ndone('looked')\n```"),
    ]);
    let run = run("openai", &mock, &["--max-images-in-request", "2"]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    let seen = mock.seen();
    let counts: Vec<usize> = seen.iter().map(|s| openai_images(&s.body).len()).collect();
    assert_eq!(counts, [0, 1, 2, 2], "the latest two at most");
    // The pictures left out keep their text line in the conversation.
    let text = seen[3].body["messages"].to_string();
    assert_eq!(text.matches("[picture 1: PNG 32x24").count(), 3, "{text}");
    assert!(run.records.iter().any(|r| r["type"] == "images_left_out"));
}
