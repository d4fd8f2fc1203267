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

/// The picture's width in pixels of the columns where `colour` shows in a
/// run around column `x` (0 when it does not show there).
fn run_around(image: &camera::Image, x: usize, colour: fn((u8, u8, u8)) -> bool) -> (usize, usize) {
    let shows = |x: usize| (0..image.height).any(|y| colour(image.pixel(x, y)));
    let (mut first, mut last) = (x, x);
    if !shows(x) {
        return (x, x);
    }
    while first > 0 && shows(first - 1) {
        first -= 1;
    }
    while last + 1 < image.width && shows(last + 1) {
        last += 1;
    }
    (first, last + 1)
}

fn is_blue((r, g, b): (u8, u8, u8)) -> bool {
    b > 120 && r < 60 && g < 110
}

fn is_green((r, g, b): (u8, u8, u8)) -> bool {
    g > 100 && r < 60 && b < 80
}

/// A room with a table (top 0.75 m) and a red cube and a green box on the
/// floor, a blue vial on the table, seen by a camera at `height`.
fn table_room(height: f64, start: (f64, f64, f64)) -> Simulator {
    sim(&format!(
        "name: table_room\nboundary: [10, 6]\ncamera: {{height: {height}}}\nrobot:\n  start: [{}, {}, {}]\n  reach: 0.6\nobstacles:\n  - {{name: table, rect: [4.0, 2.4, 1.2, 0.8], surface: true}}\nobjects:\n  - {{name: cube, kind: cube, colour: red, size: 0.1, at: [3.0, 4.2]}}\n  - {{name: box, kind: box, colour: green, size: 0.2, at: [2.4, 1.4]}}\n  - {{name: vial, kind: vial, colour: blue, size: 0.03, at: [4.2, 2.8]}}\n",
        start.0, start.1, start.2
    ))
}

#[test]
fn what_the_detector_reports_within_3_m_shows_at_its_bearing_with_its_pinhole_width() {
    let (w, h) = (640, 480);
    let mut checked = 0;
    let mut hidden = 0;
    for height in [0.9, 0.5] {
        for start in [
            (3.3, 2.8, 0.0),
            (2.5, 2.8, 0.1),
            (1.5, 3.0, 0.2),
            (1.0, 2.0, 0.5),
            (1.0, 4.0, -0.3),
            (2.0, 0.6, 1.2),
            (3.6, 1.2, 0.9),
            (0.6, 1.0, 0.4),
        ] {
            let s = table_room(height, start);
            let f = (w as f64 / 2.0) / (s.world().camera.fov / 2.0).tan();
            let image = camera::view(&s, w, h);
            let pose = s.true_pose();
            let reported = s.detections();
            for o in s.world().objects.iter() {
                let rel = o.at - sim::geometry::P2::new(pose.x, pose.y);
                let (sn, cs) = pose.theta.sin_cos();
                let forward = rel.x * cs + rel.y * sn;
                let left = -rel.x * sn + rel.y * cs;
                let colour: fn((u8, u8, u8)) -> bool = match o.colour.as_str() {
                    "red" => is_red,
                    "green" => is_green,
                    _ => is_blue,
                };
                let centre = w as f64 / 2.0 - f * left / forward;
                let width = f * o.size / forward;
                let here = format!(
                    "camera {height} m at {start:?}: {} at {:.2} m",
                    o.name,
                    rel.norm()
                );
                if !reported.iter().any(|d| d.name == o.name) {
                    hidden += 1;
                    continue;
                }
                assert!(rel.norm() <= 6.0, "{here}");
                if rel.norm() > 3.0 {
                    continue;
                }
                let (first, end) =
                    run_around(&image, centre.clamp(0.0, w as f64 - 1.0) as usize, colour);
                assert!(
                    (first as f64 - (centre - width / 2.0)).abs() <= 1.0
                        && (end as f64 - (centre + width / 2.0)).abs() <= 1.0,
                    "{here}: reported, and shows in columns {first}..{end}; its pinhole width spans {:.1}..{:.1}",
                    centre - width / 2.0,
                    centre + width / 2.0
                );
                checked += 1;
            }
        }
    }
    eprintln!("{checked} reported objects checked, {hidden} not reported");
    assert!(
        checked >= 12 && hidden >= 6,
        "{checked} checked, {hidden} hidden"
    );
}

#[test]
fn what_the_camera_cannot_show_the_detector_does_not_report() {
    // Level with the table's top is not enough: from 0.5 m up, a 3 cm vial
    // 0.4 m in from the table's front is hidden by it.
    let low = table_room(0.5, (3.3, 2.8, 0.0));
    assert!(!low.detections().iter().any(|d| d.name == "vial"));
    let shows_blue = |s: &Simulator| {
        let image = camera::view(s, 640, 480);
        (0..640).any(|x| (0..480).any(|y| is_blue(image.pixel(x, y))))
    };
    assert!(
        !shows_blue(&low),
        "the vial is hidden behind the table's front"
    );
    // From 0.9 m up the camera looks down onto the top: seen and shown.
    let high = table_room(0.9, (3.3, 2.8, 0.0));
    assert!(high.detections().iter().any(|d| d.name == "vial"));
    assert!(shows_blue(&high));
    // On the floor at the robot's feet (below the frame) it is not reported.
    let feet = table_room(0.9, (2.0, 4.2, 0.0));
    assert!(
        !feet.detections().iter().any(|d| d.name == "cube"),
        "the cube 1 m ahead lies below the frame of a camera 0.9 m up"
    );
    // The lab's vial 0.67 m away on the bench (the camera 0.9 m up): seen and shown.
    let lab = Simulator::new(Arc::new({
        let mut w = sim::load("lab").unwrap();
        w.parts.robot.start = (1.2, 6.48, std::f64::consts::FRAC_PI_2);
        sim::World::build(w.parts)
    }));
    let vial = lab
        .detections()
        .into_iter()
        .find(|d| d.name == "vial_1")
        .expect("vial_1 reported");
    assert!((vial.distance - 0.67).abs() < 0.01, "{}", vial.distance);
    let image = camera::view(&lab, 640, 480);
    let f = 320.0 / (lab.world().camera.fov / 2.0).tan();
    let (first, end) = run_around(&image, 320, is_red);
    let width = f * 0.03 / 0.67;
    assert!(
        ((end - first) as f64 - width).abs() <= 2.0,
        "the vial shows {} columns wide, its pinhole width {width:.1}",
        end - first
    );
}
