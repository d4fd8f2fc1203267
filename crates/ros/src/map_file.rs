//! A robot's map from a file (`map_file:` in a robot profile), for a robot
//! whose graph publishes none: a map saved by `nav2_map_server`'s
//! map_saver (a YAML file naming a PGM or PNG picture), or a codeact world
//! file. A map the robot's map topic publishes wins over it.

use std::path::{Path, PathBuf};

use robot_api::geometry::P2;
use robot_api::nav::GridMap;
use serde::Deserialize;

/// Why a map file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum MapFileError {
    /// A file could not be read.
    #[error("cannot read the map file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The YAML is neither a map_server map nor a codeact world.
    #[error("{path}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong, and what to do.
        message: String,
    },
}

/// The map_server map description (the YAML map_saver writes).
#[derive(Debug, Deserialize)]
struct MapYaml {
    image: PathBuf,
    resolution: f64,
    origin: [f64; 3],
    #[serde(default)]
    negate: u8,
    #[serde(default = "default_occupied")]
    occupied_thresh: f64,
    #[serde(default)]
    mode: Option<String>,
    // map_saver writes it; it only sorts free from unknown, which planning
    // does not tell apart (unknown counts as free, as on the map topic).
    #[serde(default)]
    #[allow(dead_code)]
    free_thresh: Option<f64>,
}

fn default_occupied() -> f64 {
    0.65
}

/// Loads the map in `path`: a map_server YAML (it has `image:`), else a
/// codeact world file.
pub fn load(path: &Path) -> Result<GridMap, MapFileError> {
    let text = std::fs::read_to_string(path).map_err(|source| MapFileError::Read {
        path: path.to_owned(),
        source,
    })?;
    let invalid = |message: String| MapFileError::Invalid {
        path: path.to_owned(),
        message,
    };
    let is_map_server = serde_norway::from_str::<serde_norway::Value>(&text)
        .ok()
        .is_some_and(|v| v.get("image").is_some());
    if !is_map_server {
        let world = sim::load(&path.display().to_string()).map_err(|e| {
            invalid(format!(
                "neither a map_server map (a YAML with image:, resolution: and origin:) nor a codeact world file: {e}"
            ))
        })?;
        return Ok(world.occupancy().clone());
    }
    let yaml: MapYaml = serde_norway::from_str(&text)
        .map_err(|e| invalid(format!("not a map_server map description: {e}")))?;
    let image = path.parent().unwrap_or(Path::new(".")).join(&yaml.image);
    from_picture(&yaml, &image).map_err(invalid)
}

/// The grid of a map_server picture: the top row of the picture is the
/// map's last row; a pixel's occupancy is its darkness (its value with
/// `negate: 1`), occupied above `occupied_thresh`; `mode: raw` pixels are
/// occupancy 0-100 themselves.
fn from_picture(yaml: &MapYaml, image: &Path) -> Result<GridMap, String> {
    if yaml.origin[2].abs() > 1e-9 {
        return Err(format!(
            "the map's origin is rotated (yaw {}); only maps with yaw 0 are supported: save the map unrotated",
            yaml.origin[2]
        ));
    }
    if !(yaml.resolution.is_finite() && yaml.resolution > 0.0) {
        return Err(format!(
            "resolution must be positive metres per cell, got {}",
            yaml.resolution
        ));
    }
    let picture = image::open(image)
        .map_err(|e| format!("cannot read the map's picture {}: {e}", image.display()))?
        .into_luma8();
    let (width, height) = (picture.width() as usize, picture.height() as usize);
    let raw = yaml.mode.as_deref() == Some("raw");
    let mut grid = GridMap::new(
        P2::new(yaml.origin[0], yaml.origin[1]),
        yaml.resolution,
        width,
        height,
    );
    for (x, y, pixel) in picture.enumerate_pixels() {
        let value = pixel.0[0] as f64;
        let occupied = if raw {
            (50.0..=100.0).contains(&value)
        } else {
            let darkness = if yaml.negate == 1 {
                value / 255.0
            } else {
                (255.0 - value) / 255.0
            };
            darkness > yaml.occupied_thresh
        };
        let row = height - 1 - y as usize;
        grid.occupied[row * width + x as usize] = occupied;
    }
    Ok(grid)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 4x3 PGM: a black (occupied) top-left pixel, a grey one (205:
    /// unknown in map_saver's pictures), the rest white.
    fn pgm() -> Vec<u8> {
        let mut data = b"P5\n4 3\n255\n".to_vec();
        let mut pixels = [254u8; 12];
        pixels[0] = 0;
        pixels[1] = 205;
        data.extend_from_slice(&pixels);
        data
    }

    #[test]
    fn a_map_saver_map_is_read_with_its_top_row_last() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("lab.pgm"), pgm()).unwrap();
        let yaml = dir.path().join("lab.yaml");
        std::fs::write(
            &yaml,
            "image: lab.pgm\nmode: trinary\nresolution: 0.05\norigin: [-1.0, -2.0, 0.0]\nnegate: 0\noccupied_thresh: 0.65\nfree_thresh: 0.25\n",
        )
        .unwrap();
        let grid = load(&yaml).unwrap();
        assert_eq!((grid.width, grid.height), (4, 3));
        assert_eq!(grid.origin, P2::new(-1.0, -2.0));
        let occupied: Vec<usize> = (0..12).filter(|&i| grid.occupied[i]).collect();
        // The picture's top-left pixel is the last row's first cell.
        assert_eq!(occupied, vec![8]);
    }

    #[test]
    fn a_world_file_gives_its_walls_and_a_rotated_or_broken_map_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let world = dir.path().join("room.yaml");
        std::fs::write(
            &world,
            "name: room\nboundary: [3, 2]\nrobot: {start: [1.0, 1.0, 0.0]}\n",
        )
        .unwrap();
        let grid = load(&world).unwrap();
        assert!(grid.occupied.iter().any(|&o| o), "the boundary walls");
        assert!(grid.occupied.iter().any(|&o| !o));

        std::fs::write(dir.path().join("lab.pgm"), pgm()).unwrap();
        let rotated = dir.path().join("rotated.yaml");
        std::fs::write(
            &rotated,
            "image: lab.pgm\nresolution: 0.05\norigin: [0.0, 0.0, 0.5]\n",
        )
        .unwrap();
        let e = load(&rotated).unwrap_err().to_string();
        assert!(e.contains("rotated"), "{e}");
        let missing = dir.path().join("missing.yaml");
        std::fs::write(
            &missing,
            "image: none.pgm\nresolution: 0.05\norigin: [0, 0, 0]\n",
        )
        .unwrap();
        let e = load(&missing).unwrap_err().to_string();
        assert!(e.contains("none.pgm"), "{e}");
        let neither = dir.path().join("neither.yaml");
        std::fs::write(&neither, "colour: blue\n").unwrap();
        let e = load(&neither).unwrap_err().to_string();
        assert!(e.contains("neither a map_server map"), "{e}");
    }
}
