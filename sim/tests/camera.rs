//! The camera view, checked by pixels against where things must appear.

use std::sync::Arc;

use sim::camera::{self, CAMERA_HEIGHT, WALL_HEIGHT};
use sim::Simulator;

const W: usize = 320;
const H: usize = 240;

fn sim(text: &str) -> Simulator {
    Simulator::new(Arc::new(
        sim::world_file::parse(text, "camera.yaml").unwrap_or_else(|e| panic!("{e}")),
    ))
}

/// The pinhole's focal length in pixels for a world's camera.
fn focal(s: &Simulator) -> f64 {
    (W as f64 / 2.0) / (s.world().camera.fov / 2.0).tan()
}

fn is_red((r, g, b): (u8, u8, u8)) -> bool {
    r > 100 && g < 60 && b < 60
}

fn red_columns(image: &camera::Image) -> Vec<usize> {
    (0..W)
        .filter(|&x| (0..H).any(|y| is_red(image.pixel(x, y))))
        .collect()
}

/// A 10 m x 6 m room, the robot at (2, 3) facing +x.
const ROOM: &str = "name: camera_room\nboundary: [10, 6]\nrobot:\n  start: [2.0, 3.0, 0.0]\n";

#[test]
fn a_wall_straight_ahead_fills_the_middle_columns_at_its_height() {
    // A wall across the room 2 m ahead.
    let s = sim(&format!("{ROOM}walls:\n  - [[4.0, 0.5], [4.0, 5.5]]\n"));
    let image = camera::view(&s, W, H);
    let f = focal(&s);
    let d = 2.0;
    let top = H as f64 / 2.0 - f * (WALL_HEIGHT - CAMERA_HEIGHT) / d;
    let bottom = H as f64 / 2.0 + f * CAMERA_HEIGHT / d;
    for x in [W / 2 - 20, W / 2, W / 2 + 20] {
        let wall = image.pixel(x, H / 2);
        assert_eq!(
            image.pixel(x, (top + 3.0) as usize),
            wall,
            "column {x}: wall below its top"
        );
        assert_eq!(
            image.pixel(x, (bottom - 3.0) as usize),
            wall,
            "column {x}: wall above its base"
        );
        assert_ne!(
            image.pixel(x, (top - 3.0) as usize),
            wall,
            "column {x}: above the wall is not wall"
        );
        assert_ne!(
            image.pixel(x, (bottom + 3.0) as usize),
            wall,
            "column {x}: below the wall is floor"
        );
    }
    // A wall further away looks lower and darker.
    let far = sim(&format!("{ROOM}walls:\n  - [[7.0, 0.5], [7.0, 5.5]]\n"));
    let far_image = camera::view(&far, W, H);
    let near_wall = image.pixel(W / 2, H / 2);
    let far_wall = far_image.pixel(W / 2, H / 2);
    assert!(
        far_wall.0 < near_wall.0,
        "{far_wall:?} darker than {near_wall:?}"
    );
    assert_ne!(far_image.pixel(W / 2, (top + 3.0) as usize), far_wall);
}

#[test]
fn a_red_object_shows_red_in_the_columns_of_its_bearing() {
    // A red cube 2 m ahead and 0.5 m to the left.
    let s = sim(&format!(
        "{ROOM}objects:\n  - {{name: mug, kind: mug, colour: red, size: 0.2, at: [4.0, 3.5]}}\n"
    ));
    let image = camera::view(&s, W, H);
    let f = focal(&s);
    let centre = W as f64 / 2.0 - f * 0.5 / 2.0;
    let half = f * 0.1 / 2.0;
    let red = red_columns(&image);
    assert!(!red.is_empty(), "the red object is drawn");
    let (first, last) = (red[0] as f64, *red.last().unwrap() as f64);
    assert!(
        (first - (centre - half)).abs() <= 2.0 && (last - (centre + half)).abs() <= 2.0,
        "red from column {first} to {last}, expected {:.0} to {:.0}",
        centre - half,
        centre + half
    );
    assert!(
        last < W as f64 / 2.0,
        "left of the middle: the object is to the left"
    );
    // Its rows: from the floor up to its height.
    let x = centre as usize;
    let rows: Vec<usize> = (0..H).filter(|&y| is_red(image.pixel(x, y))).collect();
    let bottom = H as f64 / 2.0 + f * CAMERA_HEIGHT / 2.0;
    assert!(
        (*rows.last().unwrap() as f64 - bottom).abs() <= 2.0,
        "{rows:?} ends at the floor, row {bottom:.0}"
    );
}

#[test]
fn nothing_behind_a_wall_is_drawn_and_nothing_behind_the_robot() {
    let behind_wall = sim(&format!(
        "{ROOM}walls:\n  - [[4.0, 0.5], [4.0, 5.5]]\nobjects:\n  - {{name: mug, kind: mug, colour: red, size: 0.3, at: [6.0, 3.0]}}\n"
    ));
    assert!(red_columns(&camera::view(&behind_wall, W, H)).is_empty());
    let behind_robot = sim(&format!(
        "{ROOM}objects:\n  - {{name: mug, kind: mug, colour: red, size: 0.3, at: [1.0, 3.0]}}\n"
    ));
    assert!(red_columns(&camera::view(&behind_robot, W, H)).is_empty());
    // The same object in the open is seen.
    let open = sim(&format!(
        "{ROOM}objects:\n  - {{name: mug, kind: mug, colour: red, size: 0.3, at: [6.0, 3.0]}}\n"
    ));
    assert!(!red_columns(&camera::view(&open, W, H)).is_empty());
}

#[test]
fn an_object_on_a_table_is_seen_over_its_front_and_the_picture_is_a_png() {
    let s = sim(&format!(
        "{ROOM}obstacles:\n  - {{name: table, rect: [3.5, 2.5, 1.0, 1.0], surface: true}}\nobjects:\n  - {{name: mug, kind: mug, colour: red, size: 0.15, at: [3.65, 3.0]}}\n"
    ));
    let image = camera::view(&s, W, H);
    assert!(
        !red_columns(&image).is_empty(),
        "the mug on the table shows above its front"
    );
    let png = image.png();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
}
