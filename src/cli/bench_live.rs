//! A Foxglove WebSocket client for the benchmarks, as a user's viewer
//! connects: it subscribes to the channels it is told to and notes when
//! each message arrives (a blocking reader on its own thread).

use std::net::SocketAddr;
use std::sync::mpsc;
use std::time::Instant;

use anyhow::{Context, Result};
use tungstenite::client::IntoClientRequest;
use tungstenite::Message;

/// A message as it arrived: its topic and when.
pub struct Arrival {
    pub topic: String,
    pub at: Instant,
}

/// A connected client: arrivals come on `arrivals` until the server ends.
pub struct LiveClient {
    pub arrivals: mpsc::Receiver<Arrival>,
}

/// Connects to the live view at `addr` and subscribes to `topics` (every
/// advertised channel when empty).
pub fn connect(addr: SocketAddr, topics: &[&str]) -> Result<LiveClient> {
    let mut request = format!("ws://{addr}").into_client_request()?;
    request
        .headers_mut()
        .insert("Sec-WebSocket-Protocol", "foxglove.sdk.v1".parse()?);
    let (mut ws, _) = tungstenite::connect(request).context("connecting to the live view")?;
    // The channels, from the advertisement after serverInfo.
    let channels = loop {
        if let Message::Text(text) = ws.read()? {
            let message: serde_json::Value = serde_json::from_str(text.as_str())?;
            if message["op"] == "advertise" {
                break message["channels"].as_array().cloned().unwrap_or_default();
            }
        }
    };
    let wanted: Vec<(u64, String)> = channels
        .iter()
        .filter_map(|c| Some((c["id"].as_u64()?, c["topic"].as_str()?.to_owned())))
        .filter(|(_, t)| topics.is_empty() || topics.contains(&t.as_str()))
        .collect();
    let subscriptions: Vec<_> = wanted
        .iter()
        .enumerate()
        .map(|(i, (id, _))| serde_json::json!({"id": i + 1, "channelId": id}))
        .collect();
    let subscribe = serde_json::json!({"op": "subscribe", "subscriptions": subscriptions});
    ws.send(Message::Text(subscribe.to_string().into()))?;
    let (tx, arrivals) = mpsc::channel();
    std::thread::spawn(move || {
        while let Ok(message) = ws.read() {
            let at = Instant::now();
            let Message::Binary(data) = message else {
                continue;
            };
            // Message data: op 1, subscription id (u32 LE), log time, payload.
            if data.len() < 13 || data[0] != 1 {
                continue;
            }
            let sub = u32::from_le_bytes([data[1], data[2], data[3], data[4]]) as usize;
            let topic = wanted.get(sub.wrapping_sub(1)).map(|(_, t)| t.clone());
            if tx
                .send(Arrival {
                    topic: topic.unwrap_or_default(),
                    at,
                })
                .is_err()
            {
                break;
            }
        }
    });
    Ok(LiveClient { arrivals })
}
