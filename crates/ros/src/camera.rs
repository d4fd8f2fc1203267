//! Camera frames from ROS as the skills give them: a `sensor_msgs/Image`
//! (raw pixels in one of the common encodings) or a
//! `sensor_msgs/CompressedImage` (JPEG or PNG), scaled to the size asked for
//! and encoded as PNG. Plain logic, tested without ROS.

use std::io::Cursor;

use image::{imageops::FilterType, DynamicImage, ImageFormat, RgbImage};

/// The last frame a camera topic brought.
#[derive(Debug, Clone)]
pub enum Frame {
    /// sensor_msgs/Image.
    Raw {
        /// Pixels across.
        width: u32,
        /// Rows.
        height: u32,
        /// `rgb8`, `bgr8`, `rgba8`, `bgra8` or `mono8`.
        encoding: String,
        /// Bytes per row.
        step: u32,
        /// The pixels.
        data: Vec<u8>,
    },
    /// sensor_msgs/CompressedImage: JPEG or PNG bytes.
    Compressed(Vec<u8>),
}

/// What is wrong with a camera frame.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// Raw pixels in an encoding not read here.
    #[error("camera frames in encoding {0:?} are not supported; use rgb8, bgr8, rgba8, bgra8, mono8 or a CompressedImage topic (camera_compressed)")]
    Encoding(String),
    /// Fewer bytes than its size, encoding and row step need.
    #[error("the camera frame is malformed: {width}x{height} {encoding} with step {step} needs more than its {bytes} bytes")]
    Malformed {
        /// Pixels across.
        width: u32,
        /// Rows.
        height: u32,
        /// Its encoding.
        encoding: String,
        /// Bytes per row.
        step: u32,
        /// The bytes it has.
        bytes: usize,
    },
    /// A compressed frame that is not a picture.
    #[error("the compressed camera frame cannot be decoded: {0}")]
    Decode(image::ImageError),
    /// The PNG could not be made.
    #[error("the camera frame cannot be encoded as PNG: {0}")]
    Encode(image::ImageError),
}

/// `frame` as a `width` × `height` PNG. The error says what is wrong with
/// the frame.
pub fn to_png(frame: &Frame, width: u32, height: u32) -> Result<Vec<u8>, FrameError> {
    let image = match frame {
        Frame::Raw {
            width: w,
            height: h,
            encoding,
            step,
            data,
        } => raw(*w, *h, encoding, *step, data)?,
        Frame::Compressed(bytes) => image::load_from_memory(bytes).map_err(FrameError::Decode)?,
    };
    let scaled = if (image.width(), image.height()) == (width, height) {
        image
    } else {
        image.resize_exact(width, height, FilterType::Triangle)
    };
    let mut out = Cursor::new(Vec::new());
    scaled
        .to_rgb8()
        .write_to(&mut out, ImageFormat::Png)
        .map_err(FrameError::Encode)?;
    Ok(out.into_inner())
}

/// Raw pixels as an RGB picture.
fn raw(
    width: u32,
    height: u32,
    encoding: &str,
    step: u32,
    data: &[u8],
) -> Result<DynamicImage, FrameError> {
    let channels: u32 = match encoding {
        "rgb8" | "bgr8" => 3,
        "rgba8" | "bgra8" => 4,
        "mono8" | "8UC1" => 1,
        other => return Err(FrameError::Encoding(other.into())),
    };
    let row = (width * channels) as usize;
    let step = step as usize;
    if width == 0 || height == 0 || step < row || data.len() < step * (height as usize - 1) + row {
        return Err(FrameError::Malformed {
            width,
            height,
            encoding: encoding.into(),
            step: step as u32,
            bytes: data.len(),
        });
    }
    let mut rgb = RgbImage::new(width, height);
    for (y, out_row) in rgb.rows_mut().enumerate() {
        let line = &data[y * step..y * step + row];
        for (x, px) in out_row.enumerate() {
            let p = &line[x * channels as usize..(x + 1) * channels as usize];
            px.0 = match encoding {
                "rgb8" | "rgba8" => [p[0], p[1], p[2]],
                "bgr8" | "bgra8" => [p[2], p[1], p[0]],
                _ => [p[0], p[0], p[0]],
            };
        }
    }
    Ok(DynamicImage::ImageRgb8(rgb))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pixel(png: &[u8], x: u32, y: u32) -> [u8; 3] {
        let img = image::load_from_memory(png).unwrap().to_rgb8();
        img.get_pixel(x, y).0
    }

    /// 4x2, left half red, right half blue, in `encoding` with a padded step.
    fn halves(encoding: &str) -> Frame {
        let (red, blue): (&[u8], &[u8]) = match encoding {
            "rgb8" => (&[255, 0, 0], &[0, 0, 255]),
            "bgr8" => (&[0, 0, 255], &[255, 0, 0]),
            "rgba8" => (&[255, 0, 0, 255], &[0, 0, 255, 255]),
            _ => (&[0, 0, 255, 255], &[255, 0, 0, 255]),
        };
        let mut data = Vec::new();
        for _ in 0..2 {
            for x in 0..4 {
                data.extend_from_slice(if x < 2 { red } else { blue });
            }
            data.extend_from_slice(&[9, 9]); // padding
        }
        Frame::Raw {
            width: 4,
            height: 2,
            encoding: encoding.into(),
            step: (4 * red.len() + 2) as u32,
            data,
        }
    }

    #[test]
    fn raw_frames_in_every_colour_order_become_the_same_png() {
        for encoding in ["rgb8", "bgr8", "rgba8", "bgra8"] {
            let png = to_png(&halves(encoding), 4, 2).unwrap();
            assert_eq!(pixel(&png, 0, 0), [255, 0, 0], "{encoding}");
            assert_eq!(pixel(&png, 3, 1), [0, 0, 255], "{encoding}");
        }
        let scaled = to_png(&halves("rgb8"), 40, 20).unwrap();
        assert_eq!(pixel(&scaled, 2, 10), [255, 0, 0]);
        assert_eq!(pixel(&scaled, 38, 10), [0, 0, 255]);
    }

    #[test]
    fn compressed_frames_are_decoded_and_bad_frames_explained() {
        let png = to_png(&halves("rgb8"), 4, 2).unwrap();
        let again = to_png(&Frame::Compressed(png), 8, 4).unwrap();
        assert_eq!(pixel(&again, 0, 0), [255, 0, 0]);
        let err = to_png(&Frame::Compressed(vec![1, 2, 3]), 8, 4)
            .unwrap_err()
            .to_string();
        assert!(err.contains("cannot be decoded"), "{err}");
        let Frame::Raw { data, .. } = halves("rgb8") else {
            unreachable!()
        };
        let short = Frame::Raw {
            width: 4,
            height: 2,
            encoding: "rgb8".into(),
            step: 14,
            data: data[..10].to_vec(),
        };
        assert!(to_png(&short, 4, 2)
            .unwrap_err()
            .to_string()
            .contains("malformed"));
        let odd = Frame::Raw {
            width: 1,
            height: 1,
            encoding: "yuv422".into(),
            step: 2,
            data: vec![0, 0],
        };
        assert!(to_png(&odd, 4, 2)
            .unwrap_err()
            .to_string()
            .contains("not supported"));
    }
}
