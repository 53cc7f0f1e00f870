//! Room labels through the real vision sidecar (issue 13 §1): a handful of the shared test
//! photos (bench/rooms.sh labels all of them), the living-property camera move a label
//! chooses when the request gives no room type, and the sidecar's restart after its
//! process dies. Needs the detectors that scripts/install-deps.sh installs.

use std::path::PathBuf;
use std::sync::Arc;

use peakreel_media::living::{self, CameraMove, RoomType};
use peakreel_media::{analysis, labels, storyboard, Mode, RenderKind};
use peakreel_rooms::Room;
use peakreel_vision::{Detector, NodeSidecar, SidecarConfig};

fn sidecar() -> Arc<NodeSidecar> {
    let s = NodeSidecar::new(SidecarConfig::new(SidecarConfig::default_dir()));
    if let Err(reason) = s.availability() {
        panic!("the vision sidecar is needed (scripts/install-deps.sh): {reason}");
    }
    Arc::new(s)
}

fn photo(name: &str) -> PathBuf {
    peakreel_testkit::photos_dir()
        .expect("the shared test photos")
        .join(name)
}

#[tokio::test]
async fn real_photos_get_their_rooms_and_the_living_move_follows_the_label() {
    let sidecar = sidecar();
    let shared: labels::SharedDetector = sidecar.clone();
    let cases = [
        ("house103_frontal.jpg", Room::Exterior, CameraMove::PushIn),
        ("house100_kitchen.jpg", Room::Kitchen, CameraMove::Slide),
        ("house103_bedroom.jpg", Room::Bedroom, CameraMove::PullOut),
        ("house101_bathroom.jpg", Room::Bathroom, CameraMove::Rise),
    ];
    let mut metrics = Vec::new();
    let mut copies = Vec::new();
    for (name, _, _) in cases {
        let img = analysis::decode(&photo(name)).unwrap();
        metrics.push(analysis::analyze(&img));
        copies.push(Some(labels::label_copy(&img)));
    }
    labels::label_all(Some(&shared), &copies, &mut metrics).await;
    for ((name, room, camera), m) in cases.iter().zip(&metrics) {
        assert_eq!(m.room, Some(*room), "{name}");
        // No room type in the request: the label chooses the move.
        assert_eq!(living::room_for(None, m).camera_move(), *camera, "{name}");
        // A given room type still wins over the label.
        assert_eq!(
            living::room_for(Some(RoomType::Office), m).camera_move(),
            CameraMove::GentlePush
        );
    }
    // One process served every photo: the models were loaded once.
    assert_eq!(sidecar.starts(), 1);

    // The storyboard's scenes carry the labels.
    let board = storyboard::storyboard(
        &RenderKind::Slideshow,
        Mode::Sequential,
        &metrics,
        "The front of the house faces a quiet street. The kitchen is bright. The bedroom is calm. The bathroom is new.",
        "en",
        1.0,
        1,
    );
    let rooms: Vec<_> = board.scenes.iter().map(|s| s.room).collect();
    let want: Vec<_> = cases.iter().map(|c| Some(c.1)).collect();
    assert_eq!(rooms, want);
}

#[tokio::test]
async fn a_dead_sidecar_is_restarted_on_the_next_photo() {
    let sidecar = sidecar();
    let img = analysis::decode(&photo("house102_bathroom.jpg")).unwrap();
    let copy = labels::label_copy(&img);
    let first = sidecar.objects(&copy).await.unwrap();
    assert!(first.iter().any(|d| d.label == "toilet"), "{first:?}");
    sidecar.kill().await;
    let again = sidecar.objects(&copy).await.unwrap();
    assert_eq!(sidecar.starts(), 2);
    // The same model on the same picture: the same objects.
    let labels_of =
        |d: &[peakreel_vision::Detection]| d.iter().map(|d| d.label.clone()).collect::<Vec<_>>();
    assert_eq!(labels_of(&first), labels_of(&again));
    // Every box lies inside the picture.
    for d in &again {
        let [x, y, w, h] = d.bbox;
        assert!(
            x >= 0.0 && y >= 0.0 && x + w <= 1.001 && y + h <= 1.001,
            "{d:?}"
        );
    }
}

#[tokio::test]
async fn without_the_sidecar_photos_stay_unlabelled() {
    let empty = tempfile::tempdir().unwrap();
    let missing: labels::SharedDetector =
        Arc::new(NodeSidecar::new(SidecarConfig::new(empty.path())));
    let img = analysis::decode(&photo("house100_kitchen.jpg")).unwrap();
    let mut metrics = vec![analysis::analyze(&img)];
    labels::label_all(
        Some(&missing),
        &[Some(labels::label_copy(&img))],
        &mut metrics,
    )
    .await;
    assert_eq!(metrics[0].room, None);
    assert_eq!(living::room_for(None, &metrics[0]), RoomType::Other);
}
