//! Pixel measurements on the real listing photos of shared/testdata, whose file names say
//! what they show (`frontal` = the exterior shot).

use std::path::PathBuf;

use peakreel_media::analysis::{analyze_file, strength};

fn photos() -> Vec<PathBuf> {
    let dir =
        peakreel_testkit::photos_dir().expect("the shared test photos (set PEAKREEL_TESTDATA)");
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("test photos in {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "jpg"))
        .collect();
    v.sort();
    v
}

#[test]
fn exteriors_are_told_from_interiors() {
    let mut right = 0;
    let mut wrong = Vec::new();
    let all = photos();
    for p in &all {
        let m = analyze_file(p).unwrap();
        let name = p.file_name().unwrap().to_string_lossy().to_string();
        let truth = name.contains("frontal");
        if m.is_exterior() == truth {
            right += 1;
        } else {
            wrong.push(format!("{name} (sky {:.2})", m.sky_fraction));
        }
    }
    let accuracy = right as f64 / all.len() as f64;
    eprintln!("exterior accuracy {accuracy:.2}; wrong: {wrong:?}");
    assert!(all.len() >= 40);
    assert!(accuracy >= 0.95, "accuracy {accuracy:.2}; wrong: {wrong:?}");
}

#[test]
fn portrait_photo_is_portrait_and_strength_is_a_ranking() {
    let all = photos();
    let metrics: Vec<_> = all
        .iter()
        .take(12)
        .map(|p| analyze_file(p).unwrap())
        .collect();
    let s = strength(&metrics);
    assert_eq!(s.len(), 12);
    assert!(s.iter().all(|v| (0.0..=1.0).contains(v)));
    let portrait = all
        .iter()
        .find(|p| p.to_string_lossy().contains("portrait"))
        .unwrap();
    assert!(analyze_file(portrait).unwrap().is_portrait());
}
