//! The HTTP provider against a small real server speaking the documented contract.

use std::time::Duration;

use peakreel_staging::{
    HttpStaging, HttpStagingConfig, StageRequest, StagingMode, StagingProvider,
};
use peakreel_types::Code;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n0000";

/// Serves one connection: returns the request it read, answers with `status` and `body`
/// after `delay`.
async fn serve_once(
    status: u16,
    body: &'static [u8],
    delay: Duration,
) -> (String, tokio::task::JoinHandle<String>) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", l.local_addr().unwrap());
    let h = tokio::spawn(async move {
        let (mut s, _) = l.accept().await.unwrap();
        let mut buf = Vec::new();
        let mut chunk = [0u8; 65536];
        loop {
            let n = s.read(&mut chunk).await.unwrap();
            buf.extend_from_slice(&chunk[..n]);
            let text = String::from_utf8_lossy(&buf).to_string();
            if let Some(i) = text.find("\r\n\r\n") {
                let len: usize = text
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length: ")
                            .map(|v| v.trim().parse().unwrap())
                    })
                    .unwrap_or(0);
                if buf.len() >= i + 4 + len {
                    break;
                }
            }
            if n == 0 {
                break;
            }
        }
        tokio::time::sleep(delay).await;
        let head = format!(
            "HTTP/1.1 {status} X\r\ncontent-type: image/png\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
            body.len()
        );
        let _ = s.write_all(head.as_bytes()).await;
        let _ = s.write_all(body).await;
        String::from_utf8_lossy(&buf).to_string()
    });
    (base, h)
}

fn req() -> StageRequest {
    StageRequest {
        image: bytes::Bytes::from_static(&[0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 3]),
        room_type: "bedroom".into(),
        mode: StagingMode::Furnish,
    }
}

#[tokio::test]
async fn success_sends_the_contract_and_returns_the_image() {
    let (base, h) = serve_once(200, PNG, Duration::ZERO).await;
    let p = HttpStaging::new(HttpStagingConfig::new(base, Some("sk_1".into()))).unwrap();
    let out = p.stage(req()).await.unwrap();
    assert_eq!(&out[..], PNG);
    let seen = h.await.unwrap();
    assert!(seen.starts_with("POST /v1/stage HTTP/1.1"), "{seen}");
    assert!(seen.contains("authorization: Bearer sk_1"), "{seen}");
    let body: serde_json::Value =
        serde_json::from_str(&seen[seen.find("\r\n\r\n").unwrap() + 4..]).unwrap();
    assert_eq!(body["room_type"], "bedroom");
    assert_eq!(body["mode"], "furnish");
    assert_eq!(body["image_type"], "image/jpeg");
    assert_eq!(body["image"], "/9j/4AECAw==");
}

#[tokio::test]
async fn failures_are_typed() {
    let (base, _h) = serve_once(500, b"overloaded", Duration::ZERO).await;
    let p = HttpStaging::new(HttpStagingConfig::new(base, None)).unwrap();
    let e = p.stage(req()).await.unwrap_err();
    assert_eq!(e.code(), Code::ServiceError);
    assert!(
        e.to_string().contains("500") && e.to_string().contains("overloaded"),
        "{e}"
    );

    let (base, _h) = serve_once(200, b"<html>", Duration::ZERO).await;
    let p = HttpStaging::new(HttpStagingConfig::new(base, None)).unwrap();
    let e = p.stage(req()).await.unwrap_err();
    assert_eq!(e.code(), Code::ServiceError);

    let (base, _h) = serve_once(200, PNG, Duration::from_secs(5)).await;
    let mut c = HttpStagingConfig::new(base, None);
    c.timeout = Duration::from_millis(300);
    let e = HttpStaging::new(c).unwrap().stage(req()).await.unwrap_err();
    assert_eq!(e.code(), Code::ServiceTimeout);

    // Nothing listening.
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", l.local_addr().unwrap());
    drop(l);
    let e = HttpStaging::new(HttpStagingConfig::new(base, None))
        .unwrap()
        .stage(req())
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::ServiceError);
    assert!(e.is_transient());
}
