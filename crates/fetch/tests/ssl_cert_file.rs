//! `SSL_CERT_FILE` adds a PEM bundle to the trusted roots. Alone in its own
//! test binary because it changes the process environment.

mod common;

use std::sync::Arc;

use common::*;
use peakreel_fetch::*;

#[tokio::test]
async fn ssl_cert_file_is_trusted() {
    let ca = make_ca();
    let server = start_server("127.0.0.2".parse().unwrap(), &ca).await;
    let jpg = photo_jpeg("house100_kitchen.jpg");
    server.route(
        "/k.jpg",
        Reply::Full {
            status: 200,
            content_type: "image/jpeg",
            body: bytes::Bytes::from(jpg),
        },
    );
    let policy = || FetchPolicy {
        allow_networks: vec!["127.0.0.2/32".parse().unwrap()],
        ..FetchPolicy::default()
    };
    let url = server.url("/k.jpg");

    if std::env::var_os("SSL_CERT_FILE").is_none() {
        let c = SafeClient::new(policy(), Arc::new(StaticResolver::new())).unwrap();
        let e = c.fetch_image(&url).await.unwrap_err();
        assert!(matches!(e, FetchError::Tls { .. }), "{e:?}");
    }

    let path = std::env::temp_dir().join(format!("peakreel-test-ca-{}.pem", std::process::id()));
    std::fs::write(&path, &ca.ca_pem).unwrap();
    // Only this test runs in this binary, so no other thread reads the
    // environment while it changes.
    std::env::set_var("SSL_CERT_FILE", &path);
    let c = SafeClient::new(policy(), Arc::new(StaticResolver::new())).unwrap();
    let got = c.fetch_image(&url).await.unwrap();
    assert_eq!(got.info.format, ImageFormat::Jpeg);

    // A missing bundle is a start-up error, not a silent loss of trust.
    std::env::set_var("SSL_CERT_FILE", path.with_extension("missing"));
    assert!(matches!(
        SafeClient::new(policy(), Arc::new(StaticResolver::new())),
        Err(ClientBuildError::Certificates(_))
    ));
    std::env::remove_var("SSL_CERT_FILE");
    std::fs::remove_file(&path).unwrap();
}
