//! Rooms known before any photo is looked at (issue 13 §1): [`RenderJob::room_hints`],
//! which job building fills from a living property's `room_type` per image
//! ([`RenderKind::room_hints`]). They are written into [`ImageMetrics::room`] after the
//! pixel measures and before planning, so a room the user gave wins over one a photo
//! labeller guessed; a labeller fills only the rooms still `None`.
//!
//! [`RenderJob::room_hints`]: crate::RenderJob::room_hints

use peakreel_rooms::Room;

use crate::analysis::ImageMetrics;
use crate::{RenderKind, RoomType};

/// The planner's room for a user's room type. `other` (also the wire default when the
/// field is absent) says nothing, so it is `None`; `office` and `hallway`, which have no
/// label of their own, are [`Room::Other`]: known, and not a room the narration's room
/// words name.
pub fn room_of(t: RoomType) -> Option<Room> {
    Some(match t {
        RoomType::LivingRoom => Room::LivingRoom,
        RoomType::Kitchen => Room::Kitchen,
        RoomType::Bedroom => Room::Bedroom,
        RoomType::Bathroom => Room::Bathroom,
        RoomType::DiningRoom => Room::DiningRoom,
        RoomType::Exterior => Room::Exterior,
        RoomType::Garden | RoomType::Pool => Room::GardenPool,
        RoomType::Office | RoomType::Hallway => Room::Other,
        RoomType::Other => return None,
    })
}

impl RenderKind {
    /// One entry per image of the job (`images` of them): the room its request gave, if
    /// any. Slideshow requests carry no rooms.
    pub fn room_hints(&self, images: usize) -> Vec<Option<Room>> {
        match self {
            RenderKind::Slideshow => vec![None; images],
            RenderKind::Living { room_types } => (0..images)
                .map(|i| room_types.get(i).copied().flatten().and_then(room_of))
                .collect(),
        }
    }
}

/// Writes `hints` (one per image in the job's order; missing ones are `None`) over
/// `metrics`' rooms wherever a hint is given.
pub fn apply(hints: &[Option<Room>], metrics: &mut [ImageMetrics]) {
    for (m, hint) in metrics.iter_mut().zip(hints) {
        if hint.is_some() {
            m.room = *hint;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_user_room_type_maps_and_other_says_nothing() {
        let kind = RenderKind::Living {
            room_types: RoomType::ALL.iter().copied().map(Some).collect(),
        };
        let hints = kind.room_hints(RoomType::ALL.len() + 1);
        for (t, h) in RoomType::ALL.iter().zip(&hints) {
            assert_eq!(*h, room_of(*t), "{}", t.name());
            // The wire names agree wherever the user's type has its own label.
            if let Some(room) = Room::parse(t.name()).filter(|_| *t != RoomType::Other) {
                assert_eq!(*h, Some(room));
            }
        }
        assert_eq!(room_of(RoomType::Other), None);
        assert_eq!(room_of(RoomType::Pool), Some(Room::GardenPool));
        assert_eq!(hints.last(), Some(&None), "an image without a room type");
        assert_eq!(RenderKind::Slideshow.room_hints(2), [None, None]);
    }

    #[test]
    fn a_hint_wins_over_a_label_and_no_hint_keeps_it() {
        let measured = |room| ImageMetrics {
            width: 4,
            height: 3,
            sharpness: 1.0,
            exposure: 0.5,
            colourfulness: 1.0,
            sky_fraction: 0.0,
            blue_sky: 0.0,
            greenery: 0.0,
            detail_center: (0.5, 0.5),
            room,
        };
        let mut metrics = vec![
            measured(Some(Room::Bathroom)),
            measured(Some(Room::Bedroom)),
            measured(None),
        ];
        apply(&[Some(Room::Kitchen), None], &mut metrics);
        let rooms: Vec<_> = metrics.iter().map(|m| m.room).collect();
        assert_eq!(rooms, [Some(Room::Kitchen), Some(Room::Bedroom), None]);
    }
}
