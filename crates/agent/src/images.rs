//! Pictures for vision models: the images an action attached with `show()`,
//! checked, scaled down to a longest side, saved in the run folder and sent
//! with the observation (OpenAI image parts, Anthropic image blocks).

use std::io::Cursor;
use std::path::Path;
use std::sync::Arc;

use image::{imageops::FilterType, ImageFormat};
use serde::{Deserialize, Serialize};

use codeact_executor::observation::ImageType;
use codeact_executor::Picture;

/// Whether pictures reach the model.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum ImageMode {
    /// Send them; if the endpoint refuses a request with pictures (a model
    /// without vision), send that request again without them and go on in text.
    #[default]
    Auto,
    /// Send them; an endpoint that refuses them ends the run with its error.
    On,
    /// Never send them: the model reads only the line that describes each.
    Off,
}

/// How pictures are sent: whether, how large, how many.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ImagePolicy {
    /// Whether pictures reach the model.
    pub mode: ImageMode,
    /// Longest side in pixels; larger pictures are scaled down to it.
    pub max_side: u32,
    /// Pictures per turn at most; the latest are kept.
    pub per_turn: usize,
    /// Pictures in the whole request at most (the conversation is resent
    /// each turn); older ones are left out, their text line kept.
    pub in_request: usize,
}

impl Default for ImagePolicy {
    fn default() -> Self {
        ImagePolicy {
            mode: ImageMode::Auto,
            max_side: 1024,
            per_turn: 4,
            in_request: 8,
        }
    }
}

/// Keeps the latest `limit` pictures of the conversation and drops the
/// older ones (each message's text still has the line describing each);
/// returns how many it dropped.
pub fn keep_latest(messages: &mut [crate::llm::Message], limit: usize) -> usize {
    let mut kept = 0;
    let mut dropped = 0;
    for m in messages.iter_mut().rev() {
        let room = limit.saturating_sub(kept);
        if m.images.len() > room {
            // Within a message, the latest pictures come last.
            let extra = m.images.len() - room;
            m.images.drain(..extra);
            dropped += extra;
        }
        kept += m.images.len();
    }
    dropped
}

/// A picture as the model gets it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Image {
    /// Its encoding (its MIME type in JSON).
    pub mime: ImageType,
    /// What the code said it shows.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub caption: Option<String>,
    /// Width as sent, pixels.
    pub width: u32,
    /// Height as sent, pixels.
    pub height: u32,
    /// The file in the run folder, relative to it (none without a run folder).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// The encoded bytes as sent (shared: the conversation is resent each turn).
    #[serde(skip)]
    pub data: Arc<[u8]>,
}

impl Image {
    /// The bytes as a `data:` URL (OpenAI's `image_url`).
    pub fn data_url(&self) -> String {
        format!("data:{};base64,{}", self.mime.mime(), self.base64())
    }

    /// The bytes in base64 (Anthropic's image source).
    pub fn base64(&self) -> String {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(&self.data)
    }
}

/// Why a picture cannot be sent to the model (said to it instead).
#[derive(Debug, thiserror::Error)]
pub enum PictureError {
    /// The bytes are not a picture of their type.
    #[error("the picture cannot be decoded: {0}")]
    Decode(image::ImageError),
    /// Scaled down, it could not be encoded again.
    #[error("the scaled picture cannot be encoded: {0}")]
    Encode(image::ImageError),
}

/// Decodes `picture`, scales it down so its longest side is at most
/// `max_side` (never up), and encodes it again in its own format. A picture
/// that needs no scaling is sent as it came. The error says what is wrong
/// with the picture, for the model to read.
pub fn prepare(picture: &Picture, max_side: u32) -> Result<Image, PictureError> {
    let format = match picture.mime {
        ImageType::Png => ImageFormat::Png,
        ImageType::Jpeg => ImageFormat::Jpeg,
    };
    let decoded =
        image::load_from_memory_with_format(&picture.data, format).map_err(PictureError::Decode)?;
    let (w, h) = (decoded.width(), decoded.height());
    let max_side = max_side.max(1);
    let (image, data): (_, Arc<[u8]>) = if w.max(h) <= max_side {
        (decoded, picture.data.clone().into())
    } else {
        let scaled = decoded.resize(max_side, max_side, FilterType::Triangle);
        let mut out = Cursor::new(Vec::new());
        scaled
            .write_to(&mut out, format)
            .map_err(PictureError::Encode)?;
        (scaled, out.into_inner().into())
    };
    Ok(Image {
        mime: picture.mime,
        caption: picture.caption.clone(),
        width: image.width(),
        height: image.height(),
        file: None,
        data,
    })
}

/// Writes `image` into `dir` as `name` plus its extension, and remembers the
/// file (relative to `dir`, under `images/`).
pub fn save(image: &mut Image, dir: &Path, name: &str) -> std::io::Result<()> {
    let ext = image.mime.extension();
    let relative = format!("images/{name}.{ext}");
    std::fs::create_dir_all(dir.join("images"))?;
    std::fs::write(dir.join(&relative), &image.data)?;
    image.file = Some(relative);
    Ok(())
}

#[cfg(test)]
mod keep_tests {
    use super::*;
    use crate::llm::Message;

    fn with(n: usize) -> Message {
        let mut m = Message::user("seen");
        for i in 0..n {
            m.images.push(Image {
                mime: codeact_executor::observation::ImageType::Png,
                caption: Some(format!("{i}")),
                width: 1,
                height: 1,
                file: None,
                data: Default::default(),
            });
        }
        m
    }

    #[test]
    fn the_whole_request_keeps_the_latest_pictures() {
        let mut messages = vec![with(3), Message::assistant("ok"), with(2), with(2)];
        assert_eq!(keep_latest(&mut messages, 5), 2);
        let left: Vec<usize> = messages.iter().map(|m| m.images.len()).collect();
        assert_eq!(left, [1, 0, 2, 2]);
        assert_eq!(
            messages[0].images[0].caption.as_deref(),
            Some("2"),
            "the latest of the message"
        );
        assert_eq!(keep_latest(&mut messages, 5), 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(w: u32, h: u32) -> Picture {
        let img = image::RgbImage::from_fn(w, h, |x, _| image::Rgb([(x % 256) as u8, 0, 0]));
        let mut out = Cursor::new(Vec::new());
        img.write_to(&mut out, ImageFormat::Png).unwrap();
        Picture {
            mime: codeact_executor::observation::ImageType::Png,
            caption: Some("a ramp".into()),
            data: out.into_inner(),
        }
    }

    #[test]
    fn large_pictures_are_scaled_to_the_longest_side_and_small_ones_kept() {
        let big = png(2000, 500);
        let sent = prepare(&big, 1024).unwrap();
        assert_eq!((sent.width, sent.height), (1024, 256));
        let back = image::load_from_memory(&sent.data).unwrap();
        assert_eq!((back.width(), back.height()), (1024, 256));
        assert_eq!(sent.caption.as_deref(), Some("a ramp"));

        let small = png(320, 240);
        let sent = prepare(&small, 1024).unwrap();
        assert_eq!((sent.width, sent.height), (320, 240));
        assert_eq!(&*sent.data, &small.data[..], "sent as it came");
        assert!(sent.data_url().starts_with("data:image/png;base64,iVBOR"));
    }

    #[test]
    fn a_broken_picture_says_why() {
        let mut bad = png(10, 10);
        bad.data.truncate(30);
        let err = prepare(&bad, 1024).unwrap_err();
        assert!(
            err.to_string().starts_with("the picture cannot be decoded"),
            "{err}"
        );
    }

    #[test]
    fn saved_pictures_are_referenced_relative_to_the_run_folder() {
        let dir = tempfile::tempdir().unwrap();
        let mut sent = prepare(&png(8, 8), 1024).unwrap();
        save(&mut sent, dir.path(), "turn1-action1-1").unwrap();
        assert_eq!(sent.file.as_deref(), Some("images/turn1-action1-1.png"));
        let on_disk = std::fs::read(dir.path().join("images/turn1-action1-1.png")).unwrap();
        assert_eq!(&on_disk[..], &*sent.data);
        let json = serde_json::to_value(&sent).unwrap();
        assert!(
            json.get("data").is_none(),
            "bytes stay out of the transcript"
        );
    }
}
