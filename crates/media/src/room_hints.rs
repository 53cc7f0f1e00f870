//! Rooms the request itself names (issue 13 §1): a living property's `room_type` per
//! image. They are written into [`ImageMetrics::room`] before planning, after the pixel
//! measures, so a room the user gave wins over one a photo labeller guessed; a labeller
//! fills only the rooms still `None`.

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
                .map(|i| room_types.get(i).copied().and_then(room_of))
                .collect(),
        }
    }
}

/// Writes `kind`'s room hints over `metrics` (in the job's image order).
pub fn apply(kind: &RenderKind, metrics: &mut [ImageMetrics]) {
    let hints = kind.room_hints(metrics.len());
    for (m, hint) in metrics.iter_mut().zip(hints) {
        if hint.is_some() {
            m.room = hint;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_user_room_type_maps_and_other_says_nothing() {
        let kind = RenderKind::Living {
            room_types: RoomType::ALL.to_vec(),
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
}
