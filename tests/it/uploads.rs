//! `POST /v1/uploads` (Extension, README "Uploads") over HTTP against the real binary:
//! each accepted format, each refusal with its code, ownership and key-mode isolation of
//! the `upload://` references, the per-account quota, expiry, and a task made only from
//! uploads rendered to completion.

use crate::support::*;
use crate::worker_support::assert_mp4;
use image::{DynamicImage, ImageFormat, RgbImage};
use reqwest::Method;
use serde_json::{json, Value};
use std::time::Duration;

const UPLOADS: &str = "/v1/uploads";

fn generated(w: u32, h: u32, fmt: ImageFormat) -> Vec<u8> {
    let img = RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([
            (x * 7 % 256) as u8,
            (y * 3 % 256) as u8,
            ((x ^ y) % 256) as u8,
        ])
    });
    peakreel_testkit::encode(&DynamicImage::ImageRgb8(img), fmt)
}

/// A listing photo from the shared test data (file names give the room).
fn photo(i: usize) -> Vec<u8> {
    let rooms = ["frontal", "kitchen", "bedroom", "bathroom"];
    peakreel_testkit::photo_jpeg(&format!("house{}_{}.jpg", 100 + i / 4, rooms[i % 4]))
}

async fn upload_raw(p: &Proc, key: &str, content_type: &str, body: Vec<u8>) -> Resp {
    let rb = p
        .request(Method::POST, UPLOADS)
        .bearer_auth(key)
        .header("content-type", content_type)
        .body(body);
    p.send(rb).await
}

/// A multipart/form-data body with the given `(field name, bytes)` parts.
fn multipart(parts: &[(&str, &[u8])]) -> (String, Vec<u8>) {
    let boundary = "----peakreel-test-boundary-7d93";
    let mut body = Vec::new();
    for (name, bytes) in parts {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"photo\"\r\nContent-Type: application/octet-stream\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// Upload and insist on 201; returns the body.
async fn upload_ok(p: &Proc, key: &str, bytes: Vec<u8>) -> Value {
    let r = upload_raw(p, key, "application/octet-stream", bytes).await;
    assert_eq!(r.status, 201, "upload: {}", r.json);
    r.json
}

fn url_of(v: &Value) -> String {
    v["url"].as_str().expect("url").to_string()
}

async fn upload_rows(p: &Proc) -> String {
    p.sql("SELECT COUNT(*) FROM uploads").await
}

#[tokio::test]
async fn uploads_accept_jpeg_png_and_webp_raw_or_multipart() {
    let p = Proc::start().await;
    let acct = p.account("Pro", 100).await;
    let key = &acct.live.key;

    let jpeg = photo(0);
    let r = upload_raw(&p, key, "image/jpeg", jpeg.clone()).await;
    assert_eq!(r.status, 201, "{}", r.json);
    let j = &r.json;
    assert_keys(
        j,
        &[
            "upload_id",
            "url",
            "width",
            "height",
            "orientation",
            "format",
            "size_bytes",
            "created_at",
            "expires_at",
        ],
    );
    let id = j["upload_id"].as_str().unwrap();
    assert!(id.starts_with("upl_") && id.len() == 28, "{j}");
    assert_eq!(j["url"], json!(format!("upload://{id}")));
    let decoded = image::load_from_memory(&jpeg).unwrap();
    assert_eq!(
        (j["width"].as_u64(), j["height"].as_u64()),
        (Some(decoded.width() as u64), Some(decoded.height() as u64))
    );
    assert_eq!(j["orientation"], "landscape", "{j}");
    assert_eq!(
        (j["format"].as_str(), j["size_bytes"].as_u64()),
        (Some("jpg"), Some(jpeg.len() as u64))
    );
    // Default lifetime: 7 days.
    assert!(
        is_timestamp(j["created_at"].as_str().unwrap())
            && is_timestamp(j["expires_at"].as_str().unwrap()),
        "{j}"
    );
    let lifetime = p
        .sql(&format!(
            "SELECT expires_at - created_at FROM uploads WHERE id = '{id}'"
        ))
        .await;
    assert_eq!(lifetime, (7 * 86_400).to_string());

    // PNG as multipart, portrait.
    let png = generated(300, 500, ImageFormat::Png);
    let (ct, body) = multipart(&[("file", &png)]);
    let r = upload_raw(&p, key, &ct, body).await;
    assert_eq!(r.status, 201, "{}", r.json);
    assert_eq!(
        (r.json["format"].as_str(), r.json["orientation"].as_str()),
        (Some("png"), Some("portrait"))
    );
    assert_eq!(
        (r.json["width"].as_u64(), r.json["height"].as_u64()),
        (Some(300), Some(500))
    );

    // WebP, square, raw with a misleading Content-Type: the bytes decide.
    let webp = generated(400, 400, ImageFormat::WebP);
    let r = upload_raw(&p, key, "image/png", webp.clone()).await;
    assert_eq!(r.status, 201, "{}", r.json);
    assert_eq!(
        (r.json["format"].as_str(), r.json["orientation"].as_str()),
        (Some("webp"), Some("square"))
    );

    // The bytes are in storage, byte for byte, under the account.
    let webp_id = r.json["upload_id"].as_str().unwrap();
    let key_path = p
        .sql(&format!(
            "SELECT blob_key FROM uploads WHERE id = '{webp_id}'"
        ))
        .await;
    assert!(
        key_path.starts_with(&format!("uploads/{}/", acct.id)),
        "{key_path}"
    );
    let stored = std::fs::read(p.data_dir().join("media").join(&key_path)).expect("stored blob");
    assert_eq!(stored, webp);
    assert_eq!(upload_rows(&p).await, "3");
}

#[tokio::test]
async fn uploads_refuse_bad_input_with_its_code_and_store_nothing() {
    let p = Proc::start().await;
    let acct = p.account("Pro", 100).await;
    let key = &acct.live.key;

    // Refused before the body is read; the server may then close the connection, so
    // this request does not leave it to the client's pool for the next one.
    let r = p
        .send(
            p.request(Method::POST, UPLOADS)
                .header("connection", "close")
                .body(photo(1)),
        )
        .await;
    assert_error_no_details(&r, 401, "MISSING_API_KEY");

    let r = upload_raw(&p, key, "image/jpeg", Vec::new()).await;
    assert_eq!(fields(&assert_validation(&r, &[])), ["file"]);

    let mut gif = b"GIF89a".to_vec();
    gif.extend_from_slice(&[0u8; 64]);
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("unsupported_format", gif),
        ("unsupported_format", b"<html>not an image</html>".to_vec()),
        (
            "too_many_pixels",
            peakreel_testkit::png_bomb(20_000, 20_000),
        ),
        ("decode_failed", {
            let mut cut = photo(2);
            cut.truncate(cut.len() / 2);
            cut
        }),
        ("decode_failed", {
            let mut png = generated(64, 64, ImageFormat::Png);
            png.truncate(60);
            png
        }),
    ];
    for (reason, bytes) in cases {
        let r = upload_raw(&p, key, "application/octet-stream", bytes).await;
        let d = assert_error(&r, 400, "IMAGE_PROCESSING_FAILED");
        assert_eq!(d, json!({"field": "file", "reason": reason}), "{}", r.json);
    }

    // Multipart: two files, a stray field, no file part, a broken body.
    let jpeg = photo(3);
    let (ct, body) = multipart(&[("file", &jpeg), ("file", &jpeg)]);
    let r = upload_raw(&p, key, &ct, body).await;
    assert_eq!(fields(&assert_validation(&r, &[])), ["file"]);
    let (ct, body) = multipart(&[("image", &jpeg)]);
    let r = upload_raw(&p, key, &ct, body).await;
    assert_eq!(fields(&assert_validation(&r, &[])), ["image"]);
    let (ct, body) = multipart(&[]);
    let r = upload_raw(&p, key, &ct, body).await;
    assert_eq!(fields(&assert_validation(&r, &[])), ["file"]);
    let r = upload_raw(
        &p,
        key,
        "multipart/form-data; boundary=x",
        b"--x\r\ngarbage".to_vec(),
    )
    .await;
    assert_eq!(fields(&assert_validation(&r, &[])), ["body"]);

    // Over 25 MiB, declared: refused before the body is read.
    let limit = 25 * 1024 * 1024;
    let r = p
        .raw_head(&format!(
            "POST {UPLOADS} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\nContent-Type: image/jpeg\r\nContent-Length: {}",
            limit + 1
        ))
        .await;
    let errors = assert_validation(&r, &["limit_bytes"]);
    assert_eq!(fields(&errors), ["file"]);
    // A multipart body within the envelope whose file part alone passes the limit.
    let mut big = photo(0);
    big.resize(limit + 1, 0);
    let (ct, body) = multipart(&[("file", &big)]);
    let r = upload_raw(&p, key, &ct, body).await;
    let details = assert_error(&r, 400, "VALIDATION_ERROR");
    assert_eq!(details["limit_bytes"], json!(limit));

    assert_eq!(upload_rows(&p).await, "0");
    let leftovers = std::fs::read_dir(p.data_dir().join("media/uploads"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(leftovers, 0, "a refused upload left files behind");
}

#[tokio::test]
async fn upload_references_belong_to_one_account_and_key_mode() {
    let p = Proc::start().await;
    let a = p.account("Pro", 100).await;
    let b = p.account("Pro", 100).await;
    let mut refs = Vec::new();
    for i in 0..6 {
        refs.push(url_of(&upload_ok(&p, &a.live.key, photo(i)).await));
    }

    // The owner, live mode: accepted, uploads mixed with a fetched URL, logo from an upload.
    let mut body = p.slideshow(6);
    body["images"] = json!([refs[0], refs[1], refs[2], p.image_url(0), refs[4], refs[5]]);
    body["elements_config"] = json!({"enabled": true, "watermark": {"url": refs[3]}});
    let created = p.create_ok(SLIDESHOW, &a.live.key, &body).await;
    assert_eq!(created["status"], "queued", "{created}");

    // The same account's test key, and another account: the image error, nothing charged.
    let before = p.assert_ledger_consistent(&a).await;
    let mut body = p.slideshow(6);
    body["images"][2] = json!(refs[2]);
    for key in [&a.test.key, &b.live.key] {
        let r = p.post(SLIDESHOW, key, &body).await;
        let d = assert_error(&r, 400, "IMAGE_INACCESSIBLE");
        assert_eq!(
            d,
            json!({"index": 2, "url": refs[2], "reason": "upload_not_found"})
        );
    }
    assert_eq!(p.assert_ledger_consistent(&a).await, before);
    assert_eq!(p.assert_ledger_consistent(&b).await, 100);

    // A well-formed id nobody uploaded, and a malformed reference.
    body["images"][2] = json!("upload://upl_AAAAAAAAAAAAAAAAAAAAAAAA");
    let d = assert_error(
        &p.post(SLIDESHOW, &a.live.key, &body).await,
        400,
        "IMAGE_INACCESSIBLE",
    );
    assert_eq!(d["reason"], "upload_not_found");
    body["images"][2] = json!("upload://../../etc/passwd");
    let d = assert_error(
        &p.post(SLIDESHOW, &a.live.key, &body).await,
        400,
        "INVALID_IMAGE_URL",
    );
    assert_eq!(d["index"], 2);

    // The living-property route and the watermark of another account.
    let mut living = p.living(2);
    living["images"][1]["url"] = json!(refs[1]);
    assert_eq!(p.post(LIVING, &a.live.key, &living).await.status, 202);
    let d = assert_error(
        &p.post(LIVING, &b.live.key, &living).await,
        400,
        "IMAGE_INACCESSIBLE",
    );
    assert_eq!(d["index"], 1);
    let mut body = p.slideshow(6);
    body["elements_config"] = json!({"enabled": true, "watermark": {"url": refs[3]}});
    let d = assert_error(
        &p.post(SLIDESHOW, &b.live.key, &body).await,
        400,
        "IMAGE_INACCESSIBLE",
    );
    assert_eq!(
        d,
        json!({"field": "elements_config.watermark.url", "url": refs[3], "reason": "upload_not_found"})
    );

    // An upload is not a webhook receiver.
    let mut body = p.slideshow(6);
    body["webhook_url"] = json!(refs[0]);
    assert_eq!(
        fields(&assert_validation(
            &p.post(SLIDESHOW, &a.live.key, &body).await,
            &[]
        )),
        ["webhook_url"]
    );

    // The avatar route: the owner's upload becomes a 512×512 avatar; another's is refused.
    let avatar = json!({"name": "From upload", "image_url": refs[0]});
    let r = p.post("/v1/avatars", &a.live.key, &avatar).await;
    assert_eq!(r.status, 201, "{}", r.json);
    let d = assert_error(
        &p.post("/v1/avatars", &b.live.key, &avatar).await,
        400,
        "IMAGE_INACCESSIBLE",
    );
    assert_eq!(d["field"], "image_url");
}

#[tokio::test]
async fn upload_quota_counts_unexpired_bytes_and_expiry_refuses_references() {
    let jpeg = photo(0);
    let size = jpeg.len() as u64;
    let quota = size * 2 + size / 2;
    let launch = Launch::serve(0).envs(&[
        ("PEAKREEL__UPLOADS__QUOTA_BYTES", &quota.to_string()),
        ("PEAKREEL__UPLOADS__TTL_SECS", "3"),
    ]);
    let p = Site::new().await.launch(launch).await;
    let acct = p.account("Pro", 100).await;

    let first = upload_ok(&p, &acct.live.key, jpeg.clone()).await;
    // Both modes share the account's quota.
    upload_ok(&p, &acct.test.key, jpeg.clone()).await;
    let r = upload_raw(&p, &acct.live.key, "image/jpeg", jpeg.clone()).await;
    let d = assert_error(&r, 403, "UPLOAD_QUOTA_EXCEEDED");
    assert_eq!(
        d,
        json!({"quota_bytes": quota, "used_bytes": size * 2, "size_bytes": size})
    );
    assert_eq!(upload_rows(&p).await, "2");
    // Another account has its own quota.
    let other = p.account("Pro", 100).await;
    upload_ok(&p, &other.live.key, jpeg.clone()).await;

    // After the lifetime the reference is refused and the bytes no longer count.
    tokio::time::sleep(Duration::from_millis(3500)).await;
    let mut body = p.slideshow(6);
    body["images"][0] = json!(url_of(&first));
    let d = assert_error(
        &p.post(SLIDESHOW, &acct.live.key, &body).await,
        400,
        "IMAGE_INACCESSIBLE",
    );
    assert_eq!(d["reason"], "upload_expired", "{d}");
    upload_ok(&p, &acct.live.key, jpeg).await;
}

/// Six uploaded photos and no URL: the task renders to a complete MP4 whose probed
/// duration matches the result.
#[tokio::test]
async fn a_task_made_from_uploads_renders_to_completion() {
    let c = Site::new().await;
    let acct = c.account("Max", 100).await;
    let p = c.launch(Launch::serve(1)).await;
    let key = &acct.live.key;
    let mut refs = Vec::new();
    for i in 0..6 {
        refs.push(url_of(&upload_ok(&p, key, photo(i)).await));
    }
    let mut body = p.shortest_slideshow();
    body["images"] = json!(refs);
    let (id, _) = p.create(key, &body).await;
    let t = p.wait_done(key, &id, Duration::from_secs(360)).await;
    assert_eq!(t["status"], "completed", "{t}");
    let r = &t["result"];
    let video = p.get_url(r["video_url"].as_str().unwrap(), None).await;
    assert_eq!(video.status, 200);
    let (w, h) = (r["width"].as_u64().unwrap(), r["height"].as_u64().unwrap());
    let probed = assert_mp4(&video.bytes, w, h, p.data_dir()).await;
    let duration = r["duration_seconds"].as_f64().unwrap();
    assert!(
        duration > 5.0 && (probed - duration).abs() <= 0.5,
        "{probed} vs {r}"
    );
}

/// The workers' sweep deletes an expired upload's file and row.
#[tokio::test]
async fn expired_uploads_are_swept() {
    let launch = Launch::serve(1).envs(&[
        ("PEAKREEL__UPLOADS__TTL_SECS", "1"),
        ("PEAKREEL__TASKS__RETENTION_SWEEP_SECS", "1"),
    ]);
    let p = Site::new().await.launch(launch).await;
    let acct = p.account("Pro", 100).await;
    let up = upload_ok(&p, &acct.live.key, photo(5)).await;
    let id = up["upload_id"].as_str().unwrap();
    let blob = p
        .sql(&format!("SELECT blob_key FROM uploads WHERE id = '{id}'"))
        .await;
    let file = p.data_dir().join("media").join(&blob);
    assert!(file.is_file(), "{}", file.display());
    let start = std::time::Instant::now();
    while upload_rows(&p).await != "0" {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "not swept: {}",
            p.logs()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(!file.exists(), "the row went but the file stayed");
}
