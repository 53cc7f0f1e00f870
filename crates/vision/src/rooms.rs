//! From what the detector saw to a room label.
//!
//! COCO has no "kitchen" class, but it has the things rooms are named after: ovens,
//! fridges and microwaves stand in kitchens, beds in bedrooms, toilets in bathrooms,
//! couches and televisions in living rooms, a dining table with chairs in a dining room,
//! cars, benches and traffic lights outside. Each room collects the evidence of its
//! objects; a sink is a kitchen's when kitchen appliances or seating are in the picture
//! and a bathroom's otherwise. Outside and inside are told apart by the planner's pixel
//! measures (sky at the top, vegetation) together with outdoor objects, and a photo that
//! is mostly planting is the garden rather than the house.

use peakreel_rooms::Room;

use crate::Detection;

/// What the pixel measures (crates/media analysis) say about a photo.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct PixelCues {
    /// Sky at the top of the picture: the planner's exterior test.
    pub outdoor: bool,
    /// Share of the picture that looks like vegetation, 0..1.
    pub greenery: f64,
}

/// Strongest indoor evidence that wins over sky in the picture: a bed, a toilet or an oven
/// seen clearly is not outside, whatever the window shows.
const CERTAIN_INDOORS: f64 = 0.5;
/// Least evidence for naming a room; below it the photo is left unlabelled.
const ENOUGH: f64 = 0.2;
/// Outdoor objects (cars, benches, …) this sure make the photo an outside one.
const OUTDOOR_OBJECTS: f64 = 0.3;
/// An outside photo with this much vegetation shows the garden, not the house.
const GARDEN_GREENERY: f64 = 0.35;

const KITCHEN_APPLIANCES: &[&str] = &["oven", "microwave", "refrigerator", "toaster"];
/// Tableware and food: weak evidence alone (they stand on bathroom shelves too).
const KITCHEN_ITEMS: &[&str] = &[
    "bottle",
    "cup",
    "wine glass",
    "bowl",
    "knife",
    "fork",
    "spoon",
    "banana",
    "apple",
    "orange",
    "broccoli",
    "carrot",
    "cake",
    "pizza",
    "sandwich",
];
const LIVING: &[&str] = &["couch", "tv"];
const OUTDOORS: &[&str] = &[
    "car",
    "truck",
    "bus",
    "bicycle",
    "motorcycle",
    "traffic light",
    "fire hydrant",
    "stop sign",
    "parking meter",
    "bench",
    "boat",
    "umbrella",
];

/// Evidence that at least one of `labels` is present: the noisy-or of the detections'
/// scores (two unsure ovens say more than one, but never more than certainty).
fn evidence(seen: &[Detection], labels: &[&str]) -> f64 {
    1.0 - seen
        .iter()
        .filter(|d| labels.contains(&d.label.as_str()))
        .map(|d| 1.0 - f64::from(d.score.clamp(0.0, 1.0)))
        .product::<f64>()
}

/// The room `seen` (the detector's objects) and `pixels` point to; `None` when nothing
/// in the photo is evidence enough for any room.
pub fn room_of(seen: &[Detection], pixels: PixelCues) -> Option<Room> {
    let appliances = evidence(seen, KITCHEN_APPLIANCES);
    let seating = evidence(seen, &["chair", "dining table"]);
    let sink = evidence(seen, &["sink"]);
    let (kitchen_sink, bathroom_sink) = if appliances > 0.0 || seating > 0.0 {
        (sink, 0.0)
    } else {
        (0.0, sink)
    };
    let table = evidence(seen, &["dining table"]);
    let dining = if table > 0.0 {
        table + 0.3 * evidence(seen, &["chair"])
    } else {
        0.0
    };
    // Beds and toilets weigh more than a fridge glimpsed through a door.
    let scores = [
        (
            Room::Kitchen,
            appliances + 0.3 * evidence(seen, KITCHEN_ITEMS) + 0.5 * kitchen_sink,
        ),
        (
            Room::Bathroom,
            1.5 * evidence(seen, &["toilet"]) + bathroom_sink,
        ),
        (Room::Bedroom, 1.5 * evidence(seen, &["bed"])),
        (Room::LivingRoom, evidence(seen, LIVING)),
        (Room::DiningRoom, dining),
    ];
    let (indoor, best) = scores
        .into_iter()
        .fold((Room::Other, 0.0), |a, b| if b.1 > a.1 { b } else { a });
    if best >= CERTAIN_INDOORS {
        return Some(indoor);
    }
    if pixels.outdoor || evidence(seen, OUTDOORS) >= OUTDOOR_OBJECTS {
        return Some(if pixels.greenery >= GARDEN_GREENERY {
            Room::GardenPool
        } else {
            Room::Exterior
        });
    }
    (best >= ENOUGH).then_some(indoor)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(items: &[(&str, f32)]) -> Vec<Detection> {
        items
            .iter()
            .map(|&(label, score)| Detection {
                label: label.into(),
                score,
                bbox: [0.1, 0.1, 0.2, 0.2],
            })
            .collect()
    }

    const INSIDE: PixelCues = PixelCues {
        outdoor: false,
        greenery: 0.0,
    };

    #[test]
    fn each_room_is_named_by_its_own_objects() {
        let cases: &[(&[(&str, f32)], Room)] = &[
            (&[("oven", 0.4), ("bottle", 0.3)], Room::Kitchen),
            (&[("microwave", 0.3)], Room::Kitchen),
            (&[("bed", 0.3), ("chair", 0.4)], Room::Bedroom),
            (&[("toilet", 0.3), ("bottle", 0.4)], Room::Bathroom),
            (&[("couch", 0.6), ("potted plant", 0.5)], Room::LivingRoom),
            (&[("tv", 0.5)], Room::LivingRoom),
            (
                &[("dining table", 0.5), ("chair", 0.5), ("chair", 0.4)],
                Room::DiningRoom,
            ),
        ];
        for (objects, room) in cases {
            assert_eq!(room_of(&seen(objects), INSIDE), Some(*room), "{objects:?}");
        }
    }

    #[test]
    fn a_sink_belongs_to_the_room_around_it() {
        assert_eq!(
            room_of(&seen(&[("sink", 0.4)]), INSIDE),
            Some(Room::Bathroom)
        );
        assert_eq!(
            room_of(&seen(&[("sink", 0.4), ("oven", 0.25)]), INSIDE),
            Some(Room::Kitchen)
        );
        assert_eq!(
            room_of(&seen(&[("sink", 0.4), ("chair", 0.3)]), INSIDE),
            Some(Room::Kitchen)
        );
    }

    #[test]
    fn a_clear_bed_outweighs_a_glimpsed_fridge_and_a_television() {
        let objects = seen(&[
            ("bed", 0.39),
            ("refrigerator", 0.24),
            ("tv", 0.33),
            ("tv", 0.22),
        ]);
        assert_eq!(room_of(&objects, INSIDE), Some(Room::Bedroom));
    }

    #[test]
    fn outside_comes_from_sky_or_outdoor_objects_and_garden_from_planting() {
        let sky = PixelCues {
            outdoor: true,
            greenery: 0.1,
        };
        assert_eq!(room_of(&[], sky), Some(Room::Exterior));
        let cars = seen(&[("car", 0.5), ("potted plant", 0.3)]);
        assert_eq!(room_of(&cars, INSIDE), Some(Room::Exterior));
        let planted = PixelCues {
            outdoor: true,
            greenery: 0.6,
        };
        assert_eq!(
            room_of(&seen(&[("bench", 0.3)]), planted),
            Some(Room::GardenPool)
        );
    }

    #[test]
    fn certain_indoor_objects_beat_sky_through_a_window() {
        let sky = PixelCues {
            outdoor: true,
            greenery: 0.0,
        };
        assert_eq!(room_of(&seen(&[("bed", 0.6)]), sky), Some(Room::Bedroom));
        // An unsure one does not.
        assert_eq!(room_of(&seen(&[("tv", 0.3)]), sky), Some(Room::Exterior));
    }

    #[test]
    fn without_evidence_the_photo_stays_unlabelled() {
        assert_eq!(room_of(&[], INSIDE), None);
        let clutter = seen(&[("vase", 0.4), ("potted plant", 0.5), ("clock", 0.3)]);
        assert_eq!(room_of(&clutter, INSIDE), None);
        assert_eq!(room_of(&seen(&[("oven", 0.1)]), INSIDE), None);
    }

    #[test]
    fn evidence_saturates_below_certainty() {
        let many = seen(&[("bottle", 0.9); 10]);
        let e = evidence(&many, &["bottle"]);
        assert!(e > 0.99 && e <= 1.0, "{e}");
        assert_eq!(evidence(&many, &["oven"]), 0.0);
    }
}
