//! Keeps a room-naming sentence's midpoint clear of transitions: when it falls within a
//! transition (or close to one) the cut is moved away from it. The time comes from the
//! nearest scene on that side that is longer than the mode's shortest (api.md §8.2); the
//! scenes in between move whole, keeping their lengths, and the scene at the midpoint
//! grows no longer than the mode's longest. Other midpoints keep their clearance, and
//! the video's length never changes: what one scene gains, another loses.

use super::super::{shortest_scene, Mode, Plan, FPS};

/// How far past the end of a transition a midpoint should be, in seconds: the picture is
/// then settled on the room's photo, not mid-dissolve.
const CLEARANCE: f64 = 0.25;

/// Moves the cuts of `plan` so each time of `midpoints` (seconds) is at least half a
/// transition plus [`CLEARANCE`] from the cuts of the scene it falls in, as far as the
/// mode's scene lengths allow.
pub(super) fn clear(plan: &mut Plan, midpoints: &[f64], mode: Mode) {
    for &mid in midpoints {
        for side in [Side::End, Side::Start] {
            while let Some((donor, k, frames)) = step(plan, midpoints, mid, side, mode) {
                plan.scenes[donor].frames -= frames;
                plan.scenes[k].frames += frames;
            }
        }
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Side {
    /// The cut after the midpoint's scene moves later.
    End,
    /// The cut before it moves earlier.
    Start,
}

/// One move towards clearing `mid` on `side`: the scene that gives frames, the scene at
/// the midpoint, and how many frames; `None` when clear or nothing can give.
fn step(
    plan: &Plan,
    midpoints: &[f64],
    mid: f64,
    side: Side,
    mode: Mode,
) -> Option<(usize, usize, u32)> {
    let fps = f64::from(FPS);
    let t = plan.timeline();
    let len = |j: usize| t[j].2 - t[j].1;
    let half = f64::from(plan.scenes[0].transition_frames) / fps / 2.0;
    let k = t.iter().position(|&(_, a, b)| mid >= a && mid < b)?;
    let need = match side {
        Side::End if k + 1 < t.len() => mid + half + CLEARANCE - t[k].2,
        Side::Start if k > 0 => t[k].1 + half + CLEARANCE - mid,
        _ => return None,
    };
    // One frame above the shortest scene, so whole frames never round a scene under it.
    let shortest = shortest_scene(mode).unwrap_or(0.0) + 1.0 / fps;
    let mut room = need.min(mode.max_scene_seconds() - len(k));
    // The scenes between the midpoint's and the donor move whole, the donor shrinks from
    // the midpoint's side: every other midpoint in them loses as much clearance.
    let between: Vec<usize> = match side {
        Side::End => (k + 1..t.len()).collect(),
        Side::Start => (0..k).rev().collect(),
    };
    for j in between {
        for &m in midpoints.iter().filter(|&&m| m >= t[j].1 && m < t[j].2) {
            let clear = match side {
                Side::End => m - t[j].1,
                Side::Start => t[j].2 - m,
            };
            room = room.min(clear - half - CLEARANCE);
        }
        let frames = (room.min(len(j) - shortest) * fps).floor();
        if room * fps < 1.0 {
            return None;
        }
        if frames >= 1.0 {
            return Some((j, k, frames as u32));
        }
    }
    None
}
