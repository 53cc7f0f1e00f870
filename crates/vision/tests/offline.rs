//! The sidecar needs no network: started in a network namespace with no interfaces
//! (`unshare -n`, as root, which is how the suite runs), it loads both models from the
//! installed package and answers. Needs scripts/install-deps.sh's install.

use std::os::unix::fs::PermissionsExt;

use image::{Rgb, RgbImage};
use peakreel_vision::{Detector, NodeSidecar, SidecarConfig};

#[tokio::test]
async fn the_models_load_and_answer_without_a_network() {
    let tmp = std::env::temp_dir().join(format!("peakreel-vision-offline-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let wrapper = tmp.join("node-offline");
    std::fs::write(&wrapper, "#!/bin/sh\nexec unshare -n node \"$@\"\n").unwrap();
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let sidecar = NodeSidecar::new(SidecarConfig {
        node: wrapper,
        ..SidecarConfig::new(SidecarConfig::default_dir())
    });
    if let Err(reason) = sidecar.availability() {
        panic!("the vision sidecar is needed (scripts/install-deps.sh): {reason}");
    }
    // A plain picture: nothing to find, but both models must load and run to say so.
    let plain = RgbImage::from_pixel(320, 240, Rgb([128, 128, 128]));
    let objects = sidecar.objects(&plain).await.expect("objects offline");
    let faces = sidecar.faces(&plain).await.expect("faces offline");
    assert!(faces.is_empty(), "{faces:?}");
    assert!(objects.iter().all(|d| d.score < 0.5), "{objects:?}");
    assert_eq!(sidecar.starts(), 1);
    std::fs::remove_dir_all(&tmp).unwrap();
}
