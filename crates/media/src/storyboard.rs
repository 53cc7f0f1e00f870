//! The storyboard of a request before anything is rendered or paid for (Extension
//! `POST …/plan`): the real scene planner of [`crate::plan`] run on the real photo
//! measurements, with the narration's timing *estimated* from the script (no speech is
//! synthesised: a dry run must answer in well under a second, and synthesis takes
//! seconds). The estimate uses the renderer's own lead, gap and tail silences and a
//! speaking speed of [`CHARS_PER_SECOND`] scaled by the voice's rate, so scene lengths
//! come out close to the render's; sentence times are the part that can drift.

use crate::analysis::ImageMetrics;
use crate::plan::{self, Mode, FPS};
use crate::RenderKind;
use peakreel_speech::{untimed_sentences, NarrationOptions, SentenceTiming};

/// Average speaking speed at rate 1.0, in characters (spaces and punctuation included)
/// per second. Measured on a 241-character listing script narrated by espeak-ng for the
/// public female voice: 14.3 s of speech without the silences, 16.9 characters a second;
/// rounded down so a preview errs on the long side.
pub const CHARS_PER_SECOND: f64 = 16.0;

/// One planned scene: which photo shows from when to when (seconds into the video,
/// measured at transition midpoints) and which sentences are heard over it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoryboardScene {
    /// Index into the request's `images`.
    pub image: usize,
    /// What the photo shows, as the planner saw it (the request's room type, or a
    /// labeller's); `None` when unknown.
    pub room: Option<peakreel_rooms::Room>,
    pub start: f64,
    pub end: f64,
    /// Indices into [`Storyboard::sentences`] spoken (at least partly) over this scene.
    pub sentences: Vec<usize>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Storyboard {
    /// Estimated length of the finished video, in seconds.
    pub total_seconds: f64,
    pub scenes: Vec<StoryboardScene>,
    /// Every sentence with its estimated start and end, in seconds.
    pub sentences: Vec<SentenceTiming>,
}

/// Sentences of `script` (split as a voice speaking `language` splits them) with times
/// estimated for that voice speaking at `rate` (1.0 = normal), laid out with the
/// renderer's default silences; returns them and the narration's total length (lead +
/// speech + tail).
pub fn estimated_narration(script: &str, language: &str, rate: f64) -> (Vec<SentenceTiming>, f64) {
    let options = NarrationOptions::default();
    let speed = CHARS_PER_SECOND * rate.clamp(0.25, 4.0);
    let mut t = options.lead;
    let mut out = Vec::new();
    for (i, s) in untimed_sentences(script, language).into_iter().enumerate() {
        if i > 0 {
            t += options.gap;
        }
        let seconds = (s.text.chars().count() as f64 / speed).max(0.4);
        out.push(SentenceTiming::spoken(&s.text, t, t + seconds));
        t += seconds;
    }
    (out, t + options.tail)
}

/// Plan `kind` over photos measured as `metrics` the way the renderer does, with the
/// narration estimated by [`estimated_narration`].
pub fn storyboard(
    kind: &RenderKind,
    mode: Mode,
    metrics: &[ImageMetrics],
    script: &str,
    language: &str,
    voice_rate: f64,
    seed: u64,
) -> Storyboard {
    let (mut sentences, narration_seconds) = estimated_narration(script, language, voice_rate);
    // The request's own rooms count as the render's do (room_hints).
    let mut metrics = metrics.to_vec();
    crate::room_hints::apply(&kind.room_hints(metrics.len()), &mut metrics);
    // As the renderer does: a slideshow too short for its mode's scenes is lengthened,
    // part of the extra time as a longer lead; living scenes show each photo once.
    let plan = match kind {
        RenderKind::Slideshow => {
            let (total, lead) = crate::padding::slideshow(mode, metrics.len(), narration_seconds);
            crate::padding::delay_sentences(&mut sentences, lead);
            plan::narrated::plan(mode, &metrics, total, seed, &sentences, language)
        }
        RenderKind::Living { .. } => plan::plan_each_once(
            &metrics,
            crate::living::total_seconds(metrics.len(), narration_seconds),
            seed,
        ),
    };
    let scenes = plan
        .timeline()
        .into_iter()
        .map(|(image, start, end)| StoryboardScene {
            image,
            room: metrics[image].room,
            start,
            end,
            sentences: sentences
                .iter()
                .enumerate()
                // A sentence belongs to every scene it is heard over for a noticeable
                // time (a quarter second), so one spanning a cut is listed under both.
                .filter(|(_, s)| s.end.min(end) - s.start.max(start) >= 0.25)
                .map(|(i, _)| i)
                .collect(),
        })
        .collect();
    Storyboard {
        total_seconds: f64::from(plan.total_frames) / f64::from(FPS),
        scenes,
        sentences,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metrics(n: usize) -> Vec<ImageMetrics> {
        (0..n)
            .map(|i| ImageMetrics {
                width: 1600,
                height: 1000,
                sharpness: 100.0 + i as f64,
                exposure: 0.8,
                colourfulness: 30.0,
                sky_fraction: 0.0,
                blue_sky: 0.0,
                greenery: 0.0,
                detail_center: (0.5, 0.5),
                room: None,
            })
            .collect()
    }

    const SCRIPT: &str = "Welcome home. The kitchen is bright and open, with a long island. Three bedrooms wait upstairs.";

    #[test]
    fn narration_estimate_uses_the_renderers_silences_and_the_rate() {
        let (s, total) = estimated_narration(SCRIPT, "en", 1.0);
        assert_eq!(s.len(), 3);
        assert_eq!(s[0].start, 0.5);
        assert!((s[1].start - s[0].end - 0.3).abs() < 1e-9);
        assert!((total - s[2].end - 1.5).abs() < 1e-9);
        let chars = SCRIPT.chars().filter(|c| *c != ' ').count() as f64;
        assert!(total > chars / CHARS_PER_SECOND);
        let (_, slower) = estimated_narration(SCRIPT, "en", 0.5);
        assert!(slower > total * 1.5, "{slower} vs {total}");
    }

    #[test]
    fn sequential_scenes_cover_the_video_in_order_and_carry_every_sentence() {
        let m = metrics(6);
        let b = storyboard(
            &RenderKind::Slideshow,
            Mode::Sequential,
            &m,
            SCRIPT,
            "en",
            1.0,
            7,
        );
        let order: Vec<usize> = b.scenes.iter().map(|s| s.image).collect();
        assert_eq!(order, [0, 1, 2, 3, 4, 5]);
        assert_eq!(b.scenes[0].start, 0.0);
        assert!((b.scenes.last().unwrap().end - b.total_seconds).abs() < 1e-9);
        for w in b.scenes.windows(2) {
            assert!((w[0].end - w[1].start).abs() < 1e-9 && w[0].start < w[0].end);
        }
        let (_, narration) = estimated_narration(SCRIPT, "en", 1.0);
        assert!((b.total_seconds - narration).abs() < 1.0 / 30.0 + 1e-9);
        let heard: std::collections::BTreeSet<usize> =
            b.scenes.iter().flat_map(|s| s.sentences.clone()).collect();
        assert_eq!(heard.into_iter().collect::<Vec<_>>(), [0, 1, 2]);
        // The first scene opens with the first sentence; the last hears the last one or
        // the tail after it.
        assert!(b.scenes[0].sentences.contains(&0));
    }

    /// The dry run plans with the render's narrated planner: each room-naming sentence's
    /// estimated midpoint falls in a scene of the room it names, and living room types
    /// show as the scenes' rooms.
    #[test]
    fn named_rooms_lead_the_storyboard_as_they_lead_the_render() {
        use crate::RoomType;
        use peakreel_rooms::Room::{Bathroom, Bedroom, Exterior, GardenPool, Kitchen};
        let rooms = [Some(Exterior), Some(Bathroom), Some(Kitchen), Some(Bedroom)];
        let mut m = metrics(4);
        for (m, r) in m.iter_mut().zip(rooms) {
            m.room = r;
        }
        let script = "Welcome to this bright family home on a quiet street. Upstairs, the bedroom is calm and quiet, with soft morning light. The kitchen offers generous counters and a long island. The bathroom has a deep tub and a walk in shower. Book a visit today.";
        for mode in [Mode::Standard, Mode::Artistic] {
            let b = storyboard(&RenderKind::Slideshow, mode, &m, script, "en", 1.0, 5);
            for (i, room) in [(1, Bedroom), (2, Kitchen), (3, Bathroom)] {
                let s = &b.sentences[i];
                let mid = (s.start + s.end) / 2.0;
                let scene = b
                    .scenes
                    .iter()
                    .find(|c| mid >= c.start && mid < c.end)
                    .unwrap();
                assert_eq!(scene.room, Some(room), "{mode:?}: {}", s.text);
                assert_eq!(m[scene.image].room, Some(room));
                assert!(scene.sentences.contains(&i));
            }
        }
        // A living property keeps the user's order; its room types are the scenes' rooms.
        let kind = RenderKind::Living {
            room_types: vec![
                Some(RoomType::Garden),
                Some(RoomType::Other),
                Some(RoomType::Kitchen),
            ],
        };
        let b = storyboard(&kind, Mode::Artistic, &metrics(3), script, "en", 1.0, 1);
        let seen: Vec<_> = b.scenes.iter().map(|s| (s.image, s.room)).collect();
        assert_eq!(seen, [(0, Some(GardenPool)), (1, None), (2, Some(Kitchen))]);
    }

    #[test]
    fn living_scenes_are_at_least_three_seconds_each() {
        let m = metrics(3);
        let kind = RenderKind::Living { room_types: vec![] };
        let b = storyboard(&kind, Mode::Artistic, &m, "Short.", "en", 1.0, 1);
        assert_eq!(b.scenes.len(), 3);
        assert!(b.total_seconds >= 9.0 - 1e-9, "{}", b.total_seconds);
    }
}
