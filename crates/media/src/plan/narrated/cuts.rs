//! Moves cuts for the narration, within the mode's scene lengths (api.md §8.2):
//! - [`split_crowded`]: a scene in which two room-naming sentences have their midpoints
//!   is cut in two between them, so each can show its room;
//! - [`clear`]: a cut close to a room-naming sentence's midpoint moves away from it, so
//!   the room is on screen, settled, not mid-transition, when it is named.
//!
//! Time a scene needs comes from the nearest scene on that side that is longer than the
//! mode's shortest; the scenes in between move whole, keeping their lengths, and no scene
//! grows past the mode's longest. Other midpoints keep their clearance, and the video's
//! length never changes: what one scene gains, another loses.

use super::super::{shortest_scene, Mode, Plan, Transition, FPS};

/// How far past the end of a transition a midpoint should be, in seconds: the picture is
/// then settled on the room's photo, not mid-dissolve.
const CLEARANCE: f64 = 0.25;

/// Cuts in two every scene of `plan` in which two of `spans` (start, end of the
/// room-naming sentences, seconds, in time order) have their midpoints, between those
/// two sentences, when both halves can then be given the mode's shortest length.
pub(super) fn split_crowded(plan: &mut Plan, spans: &[(f64, f64)], mode: Mode) {
    let midpoints: Vec<f64> = spans.iter().map(|(a, b)| (a + b) / 2.0).collect();
    for pair in spans.windows(2) {
        let ((_, end), (start, _)) = (pair[0], pair[1]);
        let (first, second) = ((pair[0].0 + end) / 2.0, (start + pair[1].1) / 2.0);
        let t = plan.timeline();
        let Some(k) = t.iter().position(|&(_, a, b)| first >= a && first < b) else {
            continue;
        };
        if second >= t[k].2 {
            continue;
        }
        let before = plan.clone();
        split(plan, k, (end + start) / 2.0);
        let shortest = shortest_scene(mode).unwrap_or(0.0) + 1.0 / f64::from(FPS);
        let lengths_ok = |plan: &Plan| {
            let t = plan.timeline();
            t[k].2 - t[k].1 >= shortest && t[k + 1].2 - t[k + 1].1 >= shortest
        };
        for (scene, side) in [(k, Side::Start), (k + 1, Side::End)] {
            loop {
                let t = plan.timeline();
                // A frame to spare: whole frames and float seconds round apart.
                let need = shortest + 1.0 / f64::from(FPS) - (t[scene].2 - t[scene].1);
                match step(plan, &midpoints, scene, side, need, mode) {
                    Some((donor, frames)) => move_frames(plan, donor, scene, frames),
                    None => break,
                }
            }
        }
        if !lengths_ok(plan) {
            *plan = before;
        }
    }
}

/// Moves the cuts of `plan` so each time of `midpoints` (seconds) is at least half a
/// transition plus [`CLEARANCE`] from the cuts of the scene it falls in, as far as the
/// mode's scene lengths allow.
pub(super) fn clear(plan: &mut Plan, midpoints: &[f64], mode: Mode) {
    let half = f64::from(plan.scenes[0].transition_frames) / f64::from(FPS) / 2.0;
    for &mid in midpoints {
        for side in [Side::End, Side::Start] {
            loop {
                let t = plan.timeline();
                let Some(k) = t.iter().position(|&(_, a, b)| mid >= a && mid < b) else {
                    break;
                };
                let need = match side {
                    Side::End => mid + half + CLEARANCE - t[k].2,
                    Side::Start => t[k].1 + half + CLEARANCE - mid,
                };
                match step(plan, midpoints, k, side, need, mode) {
                    Some((donor, frames)) => move_frames(plan, donor, k, frames),
                    None => break,
                }
            }
        }
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Side {
    /// The cut after the scene moves later.
    End,
    /// The cut before it moves earlier.
    Start,
}

fn move_frames(plan: &mut Plan, donor: usize, to: usize, frames: u32) {
    plan.scenes[donor].frames -= frames;
    plan.scenes[to].frames += frames;
}

/// One move giving scene `k` up to `need` seconds more on `side`: the scene that gives
/// frames and how many; `None` when nothing is needed or nothing can give.
fn step(
    plan: &Plan,
    midpoints: &[f64],
    k: usize,
    side: Side,
    need: f64,
    mode: Mode,
) -> Option<(usize, u32)> {
    let fps = f64::from(FPS);
    let t = plan.timeline();
    let len = |j: usize| t[j].2 - t[j].1;
    let half = f64::from(plan.scenes[0].transition_frames) / fps / 2.0;
    let (between, edge): (Vec<usize>, bool) = match side {
        Side::End => ((k + 1..t.len()).collect(), k + 1 == t.len()),
        Side::Start => ((0..k).rev().collect(), k == 0),
    };
    if need <= 0.0 || edge {
        return None;
    }
    // One frame above the shortest scene, so whole frames never round a scene under it.
    let shortest = shortest_scene(mode).unwrap_or(0.0) + 1.0 / fps;
    let mut room = need.min(mode.max_scene_seconds() - len(k));
    // The scenes between `k` and the donor move whole, the donor shrinks from `k`'s
    // side: every other midpoint in them loses as much clearance.
    for j in between {
        for &m in midpoints.iter().filter(|&&m| m >= t[j].1 && m < t[j].2) {
            let clear = match side {
                Side::End => m - t[j].1,
                Side::Start => t[j].2 - m,
            };
            room = room.min(clear - half - CLEARANCE);
        }
        if room * fps < 1.0 {
            return None;
        }
        let frames = (room.min(len(j) - shortest) * fps).floor();
        if frames >= 1.0 {
            return Some((j, frames as u32));
        }
    }
    None
}

/// Cuts scene `k` in two at `at` seconds (a cross-dissolve between the halves, which
/// start as the same photo; the caller casts them). The video's length is unchanged: the
/// new transition's overlap is added to the stream.
fn split(plan: &mut Plan, k: usize, at: f64) {
    let fps = f64::from(FPS);
    let t = plan.timeline();
    let scene = plan.scenes[k].clone();
    let fade = scene.transition_frames;
    let visible = ((t[k].2 - t[k].1) * fps).round() as u32;
    let x = (((at - t[k].1) * fps).round() as u32).clamp(1, visible.saturating_sub(1).max(1));
    // The first half keeps the overlap before the scene and gets half the new fade.
    let left = if k > 0 { fade / 2 } else { 0 };
    let first = (x + left + fade / 2).min(scene.frames + fade - 1);
    let mut a = scene.clone();
    a.frames = first;
    a.transition = Transition::Dissolve;
    let mut b = scene;
    b.frames = b.frames + fade - first;
    plan.scenes[k] = a;
    plan.scenes.insert(k + 1, b);
}
