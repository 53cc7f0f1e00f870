//! Living property scenes (api.md §8.3): one scene of continuous, eased camera motion per
//! image, the move chosen by the image's room type.
//!
//! | room type | move | what the camera does |
//! |---|---|---|
//! | `exterior`, `living_room` | push-in | zoom 1.00 → 1.12 while drifting towards the most detailed region |
//! | `kitchen`, `hallway` | lateral slide | constant 1.10 zoom, slides across the frame towards the detail side (seeded when the detail is central) |
//! | `bathroom` | rise | constant 1.10 zoom, the frame rises from the lower edge to the upper edge |
//! | `garden`, `pool` | parallax-like pan | sideways pan combined with a push-in (1.04 → 1.12) and a small counter-drift in height, so near and far parts of the picture seem to shift at different rates |
//! | `bedroom` | pull-out | zoom 1.12 → 1.02 out of the detail: the room is revealed |
//! | `dining_room` | diagonal drift | slight push-in (1.04 → 1.10) along a diagonal towards the detail |
//! | `office`, `other` | gentle push-in | zoom 1.00 → 1.07 towards the detail |
//!
//! Every move is eased in and out ([`ease`]: half a cosine, so the camera starts and stops
//! with zero speed) and sampled at sub-pixel precision: the render scales each still once
//! to the output size times the move's largest zoom, and ffmpeg's `perspective` filter
//! (bilinear, `eval=frame`) maps the window of each frame onto the output. `zoompan` and a
//! `crop` at a moving offset both move in whole pixels, which shows as a stutter at the
//! slow start and end of an eased move.
//!
//! Measured (2 cores, ffmpeg 5.1, 1080p): the `perspective` pass costs about 30 ms of CPU
//! per frame on a 1.12× still, roughly twice the encoder's cost per frame; a constant-speed
//! whole-pixel crop (the slideshow's Ken Burns) is nearly free.

use peakreel_rooms::Room;

use crate::analysis::ImageMetrics;
use crate::plan::SplitMix;

/// The room types of api.md §4.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum RoomType {
    LivingRoom,
    Kitchen,
    Bedroom,
    Bathroom,
    DiningRoom,
    Office,
    Exterior,
    Garden,
    Pool,
    Hallway,
    #[default]
    Other,
}

impl RoomType {
    pub const ALL: [RoomType; 11] = [
        RoomType::LivingRoom,
        RoomType::Kitchen,
        RoomType::Bedroom,
        RoomType::Bathroom,
        RoomType::DiningRoom,
        RoomType::Office,
        RoomType::Exterior,
        RoomType::Garden,
        RoomType::Pool,
        RoomType::Hallway,
        RoomType::Other,
    ];

    /// From the wire name (`living_room`, …).
    pub fn from_name(s: &str) -> Option<RoomType> {
        RoomType::ALL.into_iter().find(|r| r.name() == s)
    }

    pub fn name(self) -> &'static str {
        match self {
            RoomType::LivingRoom => "living_room",
            RoomType::Kitchen => "kitchen",
            RoomType::Bedroom => "bedroom",
            RoomType::Bathroom => "bathroom",
            RoomType::DiningRoom => "dining_room",
            RoomType::Office => "office",
            RoomType::Exterior => "exterior",
            RoomType::Garden => "garden",
            RoomType::Pool => "pool",
            RoomType::Hallway => "hallway",
            RoomType::Other => "other",
        }
    }

    /// The camera move of this room type (the table in the module documentation).
    pub fn camera_move(self) -> CameraMove {
        match self {
            RoomType::Exterior | RoomType::LivingRoom => CameraMove::PushIn,
            RoomType::Kitchen | RoomType::Hallway => CameraMove::Slide,
            RoomType::Bathroom => CameraMove::Rise,
            RoomType::Garden | RoomType::Pool => CameraMove::Parallax,
            RoomType::Bedroom => CameraMove::PullOut,
            RoomType::DiningRoom => CameraMove::Drift,
            RoomType::Office | RoomType::Other => CameraMove::GentlePush,
        }
    }
}

/// The room type a living-property scene moves for: the request's when it gave one, else
/// the photo's room label (issue 13 §1), else `Other`.
pub fn room_for(given: Option<RoomType>, metrics: &ImageMetrics) -> RoomType {
    given.unwrap_or_else(|| RoomType::from_label(metrics.room))
}

impl RoomType {
    /// The request's room type for a photo labelled `label` (garden and pool are one label;
    /// they share a camera move).
    pub fn from_label(label: Option<Room>) -> RoomType {
        match label {
            Some(Room::Exterior) => RoomType::Exterior,
            Some(Room::LivingRoom) => RoomType::LivingRoom,
            Some(Room::Kitchen) => RoomType::Kitchen,
            Some(Room::DiningRoom) => RoomType::DiningRoom,
            Some(Room::Bedroom) => RoomType::Bedroom,
            Some(Room::Bathroom) => RoomType::Bathroom,
            Some(Room::GardenPool) => RoomType::Garden,
            Some(Room::Other) | None => RoomType::Other,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CameraMove {
    PushIn,
    Slide,
    Rise,
    Parallax,
    PullOut,
    Drift,
    GentlePush,
}

/// What the camera sees: a window of the output's aspect inside the (aspect-cropped)
/// still. `cx`, `cy` are its centre in 0..1 of the still; `zoom` ≥ 1 makes the window
/// `1/zoom` of the still's width and height.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct View {
    pub cx: f64,
    pub cy: f64,
    pub zoom: f64,
}

impl View {
    /// Window size as a fraction of the still.
    pub fn size(self) -> f64 {
        1.0 / self.zoom
    }

    /// Top-left corner in 0..1 of the still.
    pub fn origin(self) -> (f64, f64) {
        let s = self.size();
        (self.cx - s / 2.0, self.cy - s / 2.0)
    }

    /// The same view moved (as little as possible) so the window lies inside the still.
    fn clamped(self) -> View {
        let h = self.size() / 2.0;
        View {
            cx: self.cx.clamp(h, 1.0 - h),
            cy: self.cy.clamp(h, 1.0 - h),
            zoom: self.zoom,
        }
    }
}

/// One scene's camera: from `from` to `to`, eased; the window's size and corner are
/// interpolated linearly in the eased time, so the whole move is affine per frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Shot {
    pub camera_move: CameraMove,
    pub from: View,
    pub to: View,
}

impl Shot {
    /// The view at `p` in 0..1 of the scene (eased).
    pub fn at(&self, p: f64) -> View {
        let e = ease(p);
        let s = self.from.size() + (self.to.size() - self.from.size()) * e;
        let (x0, y0) = self.from.origin();
        let (x1, y1) = self.to.origin();
        let x = x0 + (x1 - x0) * e;
        let y = y0 + (y1 - y0) * e;
        View {
            cx: x + s / 2.0,
            cy: y + s / 2.0,
            zoom: 1.0 / s,
        }
    }

    /// The largest zoom the shot reaches (the still is scaled by this much so the tightest
    /// window is sampled 1:1).
    pub fn max_zoom(&self) -> f64 {
        self.from.zoom.max(self.to.zoom)
    }
}

/// Ease-in-out (half a cosine): 0 → 1 with zero speed at both ends, fastest in the middle.
pub fn ease(p: f64) -> f64 {
    let p = p.clamp(0.0, 1.0);
    0.5 - 0.5 * (std::f64::consts::PI * p).cos()
}

/// The same easing as an ffmpeg expression of `p` (an expression in 0..1).
pub(crate) fn ease_expr(p: &str) -> String {
    format!("(0.5-0.5*cos(PI*clip({p},0,1)))")
}

/// The shot for one image of `room` type, aimed at the image's detail. `detail` is the
/// detail centre in 0..1 of the aspect-cropped still.
pub fn shot(room: RoomType, detail: (f64, f64), seed: u64) -> Shot {
    let mut rng = SplitMix(seed);
    let (dx, dy) = detail;
    // Sideways direction: towards the detail, or seeded when it is central.
    let side = if dx > 0.56 {
        1.0
    } else if dx < 0.44 {
        -1.0
    } else if rng.next().is_multiple_of(2) {
        1.0
    } else {
        -1.0
    };
    // How far towards the detail a push aims (a fraction of the way from the centre).
    let toward = |z: f64, k: f64| View {
        cx: 0.5 + (dx - 0.5) * k,
        cy: 0.5 + (dy - 0.5) * k,
        zoom: z,
    };
    let camera_move = room.camera_move();
    let (from, to) = match camera_move {
        CameraMove::PushIn => (toward(1.0, 0.0), toward(1.12, 0.6)),
        CameraMove::GentlePush => (toward(1.0, 0.0), toward(1.07, 0.6)),
        CameraMove::PullOut => (toward(1.12, 0.6), toward(1.02, 0.0)),
        CameraMove::Slide => {
            let z = 1.10;
            let cy = 0.5 + (dy - 0.5) * 0.5;
            (
                View {
                    cx: 0.5 - side,
                    cy,
                    zoom: z,
                },
                View {
                    cx: 0.5 + side,
                    cy,
                    zoom: z,
                },
            )
        }
        CameraMove::Rise => {
            let z = 1.10;
            let cx = 0.5 + (dx - 0.5) * 0.5;
            (
                View {
                    cx,
                    cy: 1.0,
                    zoom: z,
                },
                View {
                    cx,
                    cy: 0.0,
                    zoom: z,
                },
            )
        }
        CameraMove::Parallax => (
            View {
                cx: 0.5 - side,
                cy: 0.56,
                zoom: 1.04,
            },
            View {
                cx: 0.5 + side,
                cy: 0.46,
                zoom: 1.12,
            },
        ),
        CameraMove::Drift => {
            // Diagonal: from the corner away from the detail towards it.
            let vy = if dy >= 0.5 { 1.0 } else { -1.0 };
            (
                View {
                    cx: 0.5 - side,
                    cy: 0.5 - vy,
                    zoom: 1.04,
                },
                View {
                    cx: 0.5 + side,
                    cy: 0.5 + vy,
                    zoom: 1.10,
                },
            )
        }
    };
    Shot {
        camera_move,
        from: from.clamped(),
        to: to.clamped(),
    }
}

/// Seconds of video for `images` living scenes: about 3 s each, stretched to the narration
/// (whose length already includes its 0.5 s lead and 1.5 s tail, api.md §8.1).
pub fn total_seconds(images: usize, narration_seconds: f64) -> f64 {
    (images as f64 * SCENE_SECONDS).max(narration_seconds)
}

/// The nominal length of a living scene.
pub const SCENE_SECONDS: f64 = 3.0;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_label_stands_in_for_a_missing_room_type() {
        let mut m = crate::analysis::analyze(&image::DynamicImage::new_rgb8(8, 8));
        assert_eq!(room_for(None, &m), RoomType::Other);
        for (label, room) in [
            (Room::Exterior, RoomType::Exterior),
            (Room::LivingRoom, RoomType::LivingRoom),
            (Room::Kitchen, RoomType::Kitchen),
            (Room::DiningRoom, RoomType::DiningRoom),
            (Room::Bedroom, RoomType::Bedroom),
            (Room::Bathroom, RoomType::Bathroom),
            (Room::GardenPool, RoomType::Garden),
            (Room::Other, RoomType::Other),
        ] {
            m.room = Some(label);
            assert_eq!(room_for(None, &m), room);
            assert_eq!(room_for(Some(RoomType::Hallway), &m), RoomType::Hallway);
        }
    }

    #[test]
    fn easing_starts_and_ends_at_rest() {
        assert_eq!(ease(0.0), 0.0);
        assert!((ease(1.0) - 1.0).abs() < 1e-12);
        assert!((ease(0.5) - 0.5).abs() < 1e-12);
        // Speed near the ends is a small fraction of the middle's.
        let v = |p: f64| (ease(p + 0.01) - ease(p)) / 0.01;
        assert!(v(0.0) < 0.05 * v(0.5), "{} vs {}", v(0.0), v(0.5));
        assert!(v(0.99) < 0.05 * v(0.5));
        // Monotonic.
        let mut last = -1.0;
        for k in 0..=100 {
            let e = ease(k as f64 / 100.0);
            assert!(e >= last);
            last = e;
        }
    }

    #[test]
    fn the_motion_table() {
        use CameraMove::*;
        let want = [
            ("exterior", PushIn),
            ("living_room", PushIn),
            ("kitchen", Slide),
            ("hallway", Slide),
            ("bathroom", Rise),
            ("garden", Parallax),
            ("pool", Parallax),
            ("bedroom", PullOut),
            ("dining_room", Drift),
            ("office", GentlePush),
            ("other", GentlePush),
        ];
        for (name, m) in want {
            let r = RoomType::from_name(name).unwrap();
            assert_eq!(r.name(), name);
            assert_eq!(r.camera_move(), m, "{name}");
        }
        assert_eq!(RoomType::from_name("attic"), None);
    }

    fn inside(v: View) -> bool {
        let (x, y) = v.origin();
        let s = v.size();
        x >= -1e-9 && y >= -1e-9 && x + s <= 1.0 + 1e-9 && y + s <= 1.0 + 1e-9
    }

    #[test]
    fn every_shot_moves_and_stays_inside_the_still() {
        for room in RoomType::ALL {
            for detail in [(0.5, 0.5), (0.1, 0.9), (0.9, 0.1), (0.7, 0.3)] {
                let s = shot(room, detail, 3);
                for k in 0..=30 {
                    let v = s.at(k as f64 / 30.0);
                    assert!(inside(v), "{room:?} {detail:?} {v:?}");
                    assert!(v.zoom >= 1.0 - 1e-9);
                }
                let (a, b) = (s.at(0.0), s.at(1.0));
                let moved = (a.cx - b.cx).abs() + (a.cy - b.cy).abs() + (a.zoom - b.zoom).abs();
                assert!(
                    moved > 0.04,
                    "{room:?} {detail:?} barely moves: {a:?} {b:?}"
                );
            }
        }
    }

    #[test]
    fn moves_do_what_the_table_says() {
        let d = (0.5, 0.5);
        let push = shot(RoomType::Exterior, d, 1);
        assert!(push.to.zoom > push.from.zoom + 0.1);
        let pull = shot(RoomType::Bedroom, d, 1);
        assert!(pull.to.zoom < pull.from.zoom);
        let slide = shot(RoomType::Kitchen, (0.8, 0.5), 1);
        assert_eq!(slide.from.zoom, slide.to.zoom);
        assert!(
            slide.to.cx > slide.from.cx + 0.05,
            "slides towards the detail"
        );
        assert_eq!(slide.from.cy, slide.to.cy);
        let rise = shot(RoomType::Bathroom, d, 1);
        assert!(rise.to.cy < rise.from.cy - 0.05, "the frame rises");
        assert_eq!(rise.from.cx, rise.to.cx);
        let par = shot(RoomType::Garden, d, 1);
        assert!((par.to.cx - par.from.cx).abs() > 0.03);
        assert!(par.to.zoom > par.from.zoom);
        // Eased: the first step is much smaller than a middle step.
        let step = |s: &Shot, p: f64| (s.at(p + 1.0 / 90.0).cx - s.at(p).cx).abs();
        assert!(step(&slide, 0.0) < 0.05 * step(&slide, 0.5));
    }

    #[test]
    fn about_three_seconds_each_stretched_to_the_narration() {
        assert_eq!(total_seconds(3, 7.0), 9.0);
        assert_eq!(total_seconds(3, 12.5), 12.5);
        assert_eq!(total_seconds(1, 2.0), 3.0);
    }

    #[test]
    fn ease_expression_matches() {
        assert_eq!(ease_expr("in/89"), "(0.5-0.5*cos(PI*clip(in/89,0,1)))");
    }
}
