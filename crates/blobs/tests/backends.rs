//! One test body for every backend: the local directory, memory, and a real
//! S3-compatible server (moto, started here on a free port with a fresh bucket).

use bytes::Bytes;
use futures::TryStreamExt;
use peakreel_blobs::{BlobError, Blobs, StorageUrl, UrlSigner};
use peakreel_testkit::s3::S3Server;
use std::time::Duration;

async fn read_all(blobs: &Blobs, key: &str, range: Option<std::ops::Range<u64>>) -> Vec<u8> {
    let chunks: Vec<Bytes> = blobs
        .read(key, range)
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    chunks.concat()
}

/// What every backend must do the same way.
async fn behaves_as_blob_storage(blobs: &Blobs) {
    // Large enough that a download arrives in several chunks.
    let big: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
    blobs
        .put("tasks/t1/input/00.jpg", Bytes::from_static(b"abcdef"))
        .await
        .unwrap();
    blobs
        .put("tasks/t1/input/01.jpg", Bytes::from_static(b"xyz"))
        .await
        .unwrap();
    blobs
        .put("tasks/t1/output/1/video.mp4", Bytes::from(big.clone()))
        .await
        .unwrap();
    blobs
        .put("tasks/t2/input/00.jpg", Bytes::from_static(b"keep"))
        .await
        .unwrap();

    assert_eq!(
        blobs.get("tasks/t1/input/00.jpg").await.unwrap(),
        Bytes::from_static(b"abcdef")
    );
    assert_eq!(
        blobs
            .get_range("tasks/t1/input/00.jpg", 1, 3)
            .await
            .unwrap(),
        Bytes::from_static(b"bc")
    );
    assert_eq!(blobs.size("tasks/t1/input/01.jpg").await.unwrap(), 3);
    assert_eq!(
        blobs.size("tasks/t1/output/1/video.mp4").await.unwrap(),
        300_000
    );

    // Streamed reads: whole, and ranges at the start, inside and at the very end.
    let key = "tasks/t1/output/1/video.mp4";
    assert_eq!(read_all(blobs, key, None).await, big);
    for range in [0..1, 1000..150_000, 299_999..300_000] {
        assert_eq!(
            read_all(blobs, key, Some(range.clone())).await,
            &big[range.start as usize..range.end as usize],
            "{range:?}"
        );
    }

    assert_eq!(
        blobs.list("tasks/t1").await.unwrap(),
        vec![
            ("tasks/t1/input/00.jpg".to_string(), 6),
            ("tasks/t1/input/01.jpg".to_string(), 3),
            ("tasks/t1/output/1/video.mp4".to_string(), 300_000),
        ]
    );
    // A prefix is whole segments: `tasks/t` is not a prefix of `tasks/t1/…`.
    assert!(blobs.list("tasks/t").await.unwrap().is_empty());

    blobs.delete_prefix("tasks/t1").await.unwrap();
    assert!(!blobs.exists("tasks/t1/input/00.jpg").await.unwrap());
    assert!(blobs.list("tasks/t1").await.unwrap().is_empty());
    for missing in ["tasks/t1/input/01.jpg", "never/written"] {
        assert!(
            matches!(blobs.get(missing).await, Err(BlobError::NotFound(_))),
            "{missing}"
        );
        assert!(matches!(
            blobs.size(missing).await,
            Err(BlobError::NotFound(_))
        ));
        assert!(matches!(
            blobs.read(missing, None).await.err(),
            Some(BlobError::NotFound(_))
        ));
    }
    // Deleting what is already gone is not an error.
    blobs.delete_prefix("tasks/t1").await.unwrap();
    assert!(blobs.exists("tasks/t2/input/00.jpg").await.unwrap());

    for bad in ["", "../etc/passwd", "a//b", "a/./b", "/abs"] {
        assert!(
            matches!(
                blobs.put(bad, Bytes::new()).await,
                Err(BlobError::InvalidKey(_))
            ),
            "{bad}"
        );
    }
    blobs.probe().await.unwrap();
    assert!(blobs.check().await);
}

#[tokio::test]
async fn local_directory() {
    let dir = tempfile::tempdir().unwrap();
    let local = Blobs::open(&StorageUrl::Local(dir.path().join("media"))).unwrap();
    behaves_as_blob_storage(&local).await;
    // External programs read the local backend's files directly.
    assert_eq!(
        std::fs::read(local.local_path("tasks/t2/input/00.jpg").unwrap()).unwrap(),
        b"keep"
    );
    assert!(!local.can_presign());
}

#[tokio::test]
async fn memory() {
    behaves_as_blob_storage(&Blobs::memory()).await;
}

#[tokio::test]
async fn s3_bucket_with_a_prefix() {
    let server = S3Server::start().await;
    let bucket = server.create_bucket().await;
    let blobs = Blobs::s3_with(&bucket, "site/a", &server.env()).unwrap();
    assert_eq!(blobs.describe_location(), format!("s3://{bucket}/site/a"));
    behaves_as_blob_storage(&blobs).await;
    assert!(blobs.local_path("tasks/t2/input/00.jpg").is_none());

    // The objects really are in the bucket, under the prefix (listed by boto3).
    assert_eq!(
        server.objects(&bucket, "").await,
        vec![
            ("site/a/health/probe".to_string(), 2),
            ("site/a/tasks/t2/input/00.jpg".to_string(), 4),
        ]
    );
    assert_eq!(
        server.object(&bucket, "site/a/tasks/t2/input/00.jpg").await,
        b"keep"
    );
}

#[tokio::test]
async fn s3_bucket_without_a_prefix() {
    let server = S3Server::start().await;
    let bucket = server.create_bucket().await;
    let blobs = Blobs::s3_with(&bucket, "", &server.env()).unwrap();
    behaves_as_blob_storage(&blobs).await;
    assert_eq!(
        server.objects(&bucket, "tasks/").await,
        vec![("tasks/t2/input/00.jpg".to_string(), 4)]
    );
}

/// Presigned links fetch the object (and a range of it) with no credentials, and bind
/// the key: the same signature on another key is refused by the store.
#[tokio::test]
async fn s3_presigned_links() {
    let server = S3Server::start().await;
    let bucket = server.create_bucket().await;
    let blobs = Blobs::s3_with(&bucket, "p", &server.env()).unwrap();
    let body: Vec<u8> = (0..10_000u32).map(|i| (i % 256) as u8).collect();
    blobs
        .put("tasks/t/output/1/video.mp4", Bytes::from(body.clone()))
        .await
        .unwrap();
    let signer = UrlSigner::new(b"secret".to_vec(), "http://api.test").presigning_with(blobs);
    assert!(signer.presigns());
    let expires = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
        + 600;
    let link = signer
        .link("tasks/t/output/1/video.mp4", expires)
        .await
        .unwrap();
    assert!(
        link.starts_with(&format!(
            "{}/{bucket}/p/tasks/t/output/1/video.mp4?",
            server.endpoint()
        )),
        "{link}"
    );
    assert!(
        link.contains("X-Amz-Expires=600") || link.contains("X-Amz-Expires=599"),
        "{link}"
    );

    let fetched = raw_get(&link, None).await;
    assert_eq!(fetched.0, 200, "{}", String::from_utf8_lossy(&fetched.1));
    assert_eq!(fetched.1, body);
    let ranged = raw_get(&link, Some("bytes=100-199")).await;
    assert_eq!(ranged.0, 206);
    assert_eq!(ranged.1, &body[100..200]);

    // The local signer's own links never presign.
    let local =
        UrlSigner::new(b"secret".to_vec(), "http://api.test").presigning_with(Blobs::memory());
    assert!(!local.presigns());
    assert!(local
        .link("a/b.mp4", expires)
        .await
        .unwrap()
        .starts_with("http://api.test/v1/files/a/b.mp4?expires="));
}

/// A store that does not answer: the error says why, within seconds (not after
/// object_store's default three minutes of retries).
#[tokio::test]
async fn s3_unreachable_is_reported_with_its_reason() {
    let mut server = S3Server::start().await;
    let bucket = server.create_bucket().await;
    let blobs = Blobs::s3_with(&bucket, "", &server.env()).unwrap();
    blobs.probe().await.unwrap();
    server.stop();
    let err = tokio::time::timeout(Duration::from_secs(60), blobs.probe())
        .await
        .expect("the probe gives up on its own")
        .unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, BlobError::Backend(_)), "{text}");
    assert!(
        text.to_lowercase().contains("connect") || text.contains("refused"),
        "{text}"
    );
    assert!(!blobs.check().await);
    // A bucket that does not exist is named as such.
    server.restart().await;
    let err = blobs.probe().await.unwrap_err().to_string();
    assert!(
        err.contains("NoSuchBucket") || err.contains("does not exist"),
        "{err}"
    );
}

/// GET a URL with no credentials: `(status, body)`.
async fn raw_get(url: &str, range: Option<&str>) -> (u16, Vec<u8>) {
    // Blobs::s3 installed the process's TLS provider that reqwest needs.
    let mut request = reqwest::Client::new().get(url);
    if let Some(r) = range {
        request = request.header("range", r);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.bytes().await.unwrap().to_vec())
}
