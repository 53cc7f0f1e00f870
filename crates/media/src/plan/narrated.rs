//! Narration-led scenes (issue 13 §1): while a sentence that names a room is spoken, a
//! photo of that room is on screen. Used by the render and the storyboard alike.
//!
//! The mode's own plan ([`super::plan`]) fixes how many scenes there are, how long each
//! is and how they hand over; this module changes which photo each scene shows, and
//! moves or adds cuts only where the narration needs it, within the mode's lengths:
//! 0. A scene in which two room-naming sentences have their midpoints is cut in two
//!    between them ([`cuts::split_crowded`]).
//! 1. Each room-naming sentence claims the scene its midpoint falls in (the one heard
//!    over it longest wins when two midpoints share a scene), then every scene it covers
//!    for at least half its length. A sentence naming several rooms shows them in the
//!    order it names them across its scenes.
//! 2. A claimed scene shows a photo of its room: one not yet shown for the narration
//!    first, then the strongest. When the only photo of the room is the one already on
//!    screen, that scene is held on into the next one if the joined scene stays within
//!    the mode's longest ([`Mode::max_scene_seconds`]); otherwise the scene is left free.
//! 3. A cut close to such a sentence's midpoint moves away from it, within the mode's
//!    scene lengths ([`cuts`]), so the room is on screen, settled, when it is named.
//! 4. The free scenes take the other photos in the order the mode chose (so `standard`
//!    still opens and closes on its exteriors and `artistic` on its strongest photo when
//!    those scenes are free), never the same photo twice in a row.
//!
//! `sequential` keeps the user's order, and when no sentence names a room some photo is
//! labelled with (rooms unknown, or nothing named), the plan is the mode's, unchanged.

use peakreel_rooms::{mentions, Room};
use peakreel_speech::SentenceTiming;

use super::{motion_for, Mode, Plan, Scene, SplitMix};
use crate::analysis::{strength, ImageMetrics};

/// Plans `images` to fill `total_seconds` as [`super::plan`] does, then puts the photo of
/// each room the narration names on screen while it is named. `sentences` are the
/// narration's, timed in seconds of the finished video; `language` is the voice's (ISO
/// 639-1), which picks the room words ([`peakreel_rooms::mentions`]).
pub fn plan(
    mode: Mode,
    images: &[ImageMetrics],
    total_seconds: f64,
    seed: u64,
    sentences: &[SentenceTiming],
    language: &str,
) -> Plan {
    let base = super::plan(mode, images, total_seconds, seed);
    if mode == Mode::Sequential {
        return base;
    }
    let named: Vec<Vec<Room>> = sentences
        .iter()
        .map(|s| {
            mentions(&s.text, language)
                .into_iter()
                .filter(|r| images.iter().any(|m| m.room == Some(*r)))
                .collect()
        })
        .collect();
    if named.iter().all(Vec::is_empty) {
        return base;
    }
    let mut base = base;
    let spans: Vec<(f64, f64)> = sentences
        .iter()
        .zip(&named)
        .filter(|(_, rooms)| !rooms.is_empty())
        .map(|(s, _)| (s.start, s.end))
        .collect();
    cuts::split_crowded(&mut base, &spans, mode);
    let slots: Vec<(f64, f64)> = base.timeline().iter().map(|&(_, a, b)| (a, b)).collect();
    let wants = claims(&slots, sentences, &named);
    let picks = cast(&base, &slots, &wants, images, mode);
    let mut plan = rebuild(base, &picks, images, seed);
    // The midpoints of the sentences whose room is on screen there.
    let midpoints: Vec<f64> = sentences
        .iter()
        .zip(&named)
        .map(|(s, rooms)| ((s.start + s.end) / 2.0, rooms))
        .filter(|(mid, rooms)| {
            plan.timeline()
                .iter()
                .find(|&&(_, a, b)| *mid >= a && *mid < b)
                .is_some_and(|&(i, _, _)| images[i].room.is_some_and(|r| rooms.contains(&r)))
        })
        .map(|(mid, _)| mid)
        .collect();
    cuts::clear(&mut plan, &midpoints, mode);
    plan
}

/// What scene `k` must show: a room, and whether a sentence's midpoint claimed it (those
/// are cast first).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Claim {
    room: Room,
    midpoint: bool,
}

/// Which room each scene (`slots`: visible start and end, seconds) must show, if any.
fn claims(
    slots: &[(f64, f64)],
    sentences: &[SentenceTiming],
    named: &[Vec<Room>],
) -> Vec<Option<Claim>> {
    let overlap = |s: &SentenceTiming, (a, b): (f64, f64)| (s.end.min(b) - s.start.max(a)).max(0.0);
    let naming = || (0..sentences.len()).filter(|&i| !named[i].is_empty());
    // owner[k]: the sentence that claims scene k, and how long it is heard over it.
    let mut owner: Vec<Option<(usize, f64)>> = vec![None; slots.len()];
    let mut midpoint = vec![false; slots.len()];
    for i in naming() {
        let s = &sentences[i];
        let mid = (s.start + s.end) / 2.0;
        let Some(k) = slots.iter().position(|&(a, b)| mid >= a && mid < b) else {
            continue;
        };
        let heard = overlap(s, slots[k]);
        if owner[k].is_none_or(|(_, other)| heard > other) {
            owner[k] = Some((i, heard));
            midpoint[k] = true;
        }
    }
    for (k, &slot) in slots.iter().enumerate() {
        if owner[k].is_some() {
            continue;
        }
        let best = naming()
            .map(|i| (i, overlap(&sentences[i], slot)))
            .max_by(|a, b| a.1.total_cmp(&b.1));
        if let Some((i, heard)) = best {
            if heard >= 0.5 * (slot.1 - slot.0) {
                owner[k] = Some((i, heard));
            }
        }
    }
    let mut wants = vec![None; slots.len()];
    for i in naming() {
        let mine: Vec<usize> = (0..slots.len())
            .filter(|&k| owner[k].map(|o| o.0) == Some(i))
            .collect();
        let rooms = &named[i];
        for (j, &k) in mine.iter().enumerate() {
            wants[k] = Some(Claim {
                room: rooms[j * rooms.len() / mine.len()],
                midpoint: midpoint[k],
            });
        }
    }
    wants
}

/// What a scene shows: a photo, or the previous scene's photo held on (joined with it).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Pick {
    Photo(usize),
    Hold,
}

fn cast(
    base: &Plan,
    slots: &[(f64, f64)],
    wants: &[Option<Claim>],
    images: &[ImageMetrics],
    mode: Mode,
) -> Vec<Pick> {
    let (m, n) = (slots.len(), images.len());
    let power = strength(images);
    // photo[k]: the photo on screen in scene k; equal neighbours are one held scene.
    let mut photo: Vec<Option<usize>> = vec![None; m];
    let mut shown = vec![false; n];
    let neighbours = |k: usize| [k.checked_sub(1), Some(k + 1).filter(|&j| j < m)];
    let mut claimed: Vec<usize> = (0..m).filter(|&k| wants[k].is_some()).collect();
    claimed.sort_by_key(|&k| (!wants[k].is_some_and(|c| c.midpoint), k));
    for k in claimed {
        let Some(Claim { room, .. }) = wants[k] else {
            continue;
        };
        let next_door: Vec<usize> = neighbours(k)
            .into_iter()
            .flatten()
            .filter_map(|j| photo[j])
            .collect();
        let best = (0..n)
            .filter(|&i| images[i].room == Some(room) && !next_door.contains(&i))
            .min_by(|&a, &b| {
                shown[a]
                    .cmp(&shown[b])
                    .then(power[b].total_cmp(&power[a]))
                    .then(a.cmp(&b))
            });
        if let Some(i) = best {
            photo[k] = Some(i);
            shown[i] = true;
            continue;
        }
        // The room's only photo is next door: hold it on through this scene too when
        // the joined scene stays within the mode's longest.
        for j in neighbours(k).into_iter().flatten() {
            let Some(i) = photo[j].filter(|&i| images[i].room == Some(room)) else {
                continue;
            };
            photo[k] = Some(i);
            if held_seconds(&photo, slots, k) <= mode.max_scene_seconds() {
                break;
            }
            photo[k] = None;
        }
    }

    // The free scenes: the mode's order, less the photos the narration already showed.
    let order: Vec<usize> = base.scenes.iter().map(|s| s.image).collect();
    let mut queue: Vec<usize> = Vec::with_capacity(m);
    let mut skipped = vec![false; n];
    for &i in &order {
        if shown[i] && !skipped[i] {
            skipped[i] = true;
        } else {
            queue.push(i);
        }
    }
    let fits = |photo: &[Option<usize>], k: usize, i: usize| {
        (k == 0 || photo[k - 1] != Some(i)) && photo.get(k + 1).copied().flatten() != Some(i)
    };
    // The mode's opening and closing photos keep their places when those scenes are free.
    for k in [0, m - 1] {
        let i = order[k];
        if photo[k].is_none() && !shown[i] && fits(&photo, k, i) {
            if let Some(q) = queue.iter().position(|&j| j == i) {
                queue.remove(q);
                photo[k] = Some(i);
            }
        }
    }
    let mut count = vec![0usize; n];
    for i in photo.iter().flatten() {
        count[*i] += 1;
    }
    for k in 0..m {
        if photo[k].is_some() {
            continue;
        }
        let i = match queue.iter().position(|&i| fits(&photo, k, i)) {
            Some(q) => queue.remove(q),
            // The queue has nothing that fits here: the least shown photo that does.
            None => (0..n)
                .filter(|&i| fits(&photo, k, i))
                .min_by(|&a, &b| count[a].cmp(&count[b]).then(power[b].total_cmp(&power[a])))
                .unwrap_or(order[k]),
        };
        count[i] += 1;
        photo[k] = Some(i);
    }
    (0..m)
        .map(|k| {
            let i = photo[k].unwrap_or(order[k]);
            if k > 0 && photo[k - 1] == Some(i) {
                Pick::Hold
            } else {
                Pick::Photo(i)
            }
        })
        .collect()
}

/// Visible seconds of the run of scenes around `k` that show the same photo as `k`.
fn held_seconds(photo: &[Option<usize>], slots: &[(f64, f64)], k: usize) -> f64 {
    let same = |j: usize| photo[j] == photo[k];
    let first = (0..=k).rev().take_while(|&j| same(j)).last().unwrap_or(k);
    let last = (k..photo.len())
        .take_while(|&j| same(j))
        .last()
        .unwrap_or(k);
    slots[last].1 - slots[first].0
}

/// The mode's scenes with the photos of `picks`: a held scene joins its predecessor
/// (the transition between them disappears, so the video's length is unchanged), and
/// every scene's pan is aimed again at its photo's detail.
fn rebuild(base: Plan, picks: &[Pick], images: &[ImageMetrics], seed: u64) -> Plan {
    let mut rng = SplitMix(seed ^ 0x6E61_7272_6174_6564);
    let mut scenes: Vec<Scene> = Vec::with_capacity(base.scenes.len());
    for (scene, pick) in base.scenes.into_iter().zip(picks) {
        if let (Pick::Hold, Some(prev)) = (pick, scenes.last_mut()) {
            prev.frames += scene.frames - prev.transition_frames;
            prev.transition = scene.transition;
            continue;
        }
        let image = match pick {
            Pick::Photo(i) => *i,
            Pick::Hold => scene.image,
        };
        scenes.push(Scene {
            image,
            motion: motion_for(&images[image], &mut rng),
            ..scene
        });
    }
    Plan {
        scenes,
        total_frames: base.total_frames,
    }
}

mod cuts;

#[cfg(test)]
mod tests;
