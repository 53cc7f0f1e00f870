//! The rooms a listing photo can show (issue 13 §1), as the photo labeller reports them
//! and as the planner matches them against what the narration names ([`mentions`], per
//! voice language). No I/O lives here.

mod lexicon;

pub use lexicon::{first_mention, mentions, LANGUAGES};

/// What a listing photo shows. Garden and pool are one label: listing narration names
/// either for the same outdoor-living photos, and the detector cannot tell them apart
/// reliably.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Room {
    Exterior,
    LivingRoom,
    Kitchen,
    DiningRoom,
    Bedroom,
    Bathroom,
    GardenPool,
    Other,
}

impl Room {
    /// Every label, in a fixed order (tables, benchmarks).
    pub const ALL: [Room; 8] = [
        Room::Exterior,
        Room::LivingRoom,
        Room::Kitchen,
        Room::DiningRoom,
        Room::Bedroom,
        Room::Bathroom,
        Room::GardenPool,
        Room::Other,
    ];

    /// The label's name on the wire (storyboard/plan output, `/health`, benchmarks).
    pub fn as_str(self) -> &'static str {
        match self {
            Room::Exterior => "exterior",
            Room::LivingRoom => "living_room",
            Room::Kitchen => "kitchen",
            Room::DiningRoom => "dining_room",
            Room::Bedroom => "bedroom",
            Room::Bathroom => "bathroom",
            Room::GardenPool => "garden_pool",
            Room::Other => "other",
        }
    }

    /// Inverse of [`Room::as_str`].
    pub fn parse(s: &str) -> Option<Room> {
        Room::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_names_round_trip_and_are_distinct() {
        let mut names: Vec<_> = Room::ALL.iter().map(|r| r.as_str()).collect();
        for r in Room::ALL {
            assert_eq!(Room::parse(r.as_str()), Some(r));
        }
        names.sort();
        names.dedup();
        assert_eq!(names.len(), Room::ALL.len());
        assert_eq!(Room::parse("garage"), None);
    }
}
