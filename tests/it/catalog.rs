//! Voices, avatars and signed file downloads (api.md §5, §5b, §7).

use crate::support::*;
use serde_json::Value;

fn data(r: &Resp) -> &Vec<Value> {
    assert_eq!(r.status, 200, "{}", r.json);
    assert_request_id(r);
    r.json["data"].as_array().expect("data array")
}

#[tokio::test]
async fn public_voices() {
    let s = Server::start().await;
    let a = s.account("Plus", 0).await;
    let r = s.get("/v1/voices", Some(&a.live.key)).await;
    let voices = data(&r);
    assert!(voices.len() >= 8, "{} voices", voices.len());
    for v in voices {
        for key in [
            "voice_id",
            "name",
            "gender",
            "accent",
            "provider",
            "created_at",
        ] {
            assert!(v[key].is_string(), "{key} in {v}");
        }
        let id = v["voice_id"].as_str().unwrap();
        assert!(
            id.len() == 20 && id.bytes().all(|b| b.is_ascii_alphanumeric()),
            "{id}"
        );
        assert!(!v["languages"].as_array().unwrap().is_empty());
        assert_eq!(v["owner"], "public");
        assert!(is_timestamp(v["created_at"].as_str().unwrap()));
    }
    let sarah = voices
        .iter()
        .find(|v| v["voice_id"] == VOICE)
        .expect("EXAVITQu4vr4xnSDxMaL is listed");
    assert_eq!(sarah["name"], "Sarah");
    assert_eq!(sarah["gender"], "female");
    assert!(sarah["languages"]
        .as_array()
        .unwrap()
        .iter()
        .any(|l| l == "en"));

    // Filters.
    let r = s.get("/v1/voices?language=es", Some(&a.live.key)).await;
    let es = data(&r);
    assert!(!es.is_empty() && es.len() < voices.len());
    assert!(es.iter().any(|v| v["voice_id"] == VOICE));
    assert!(es
        .iter()
        .all(|v| v["languages"].as_array().unwrap().iter().any(|l| l == "es")));
    for gender in ["male", "female"] {
        let r = s
            .get(&format!("/v1/voices?gender={gender}"), Some(&a.live.key))
            .await;
        let list = data(&r);
        assert!(!list.is_empty(), "{gender}");
        assert!(list.iter().all(|v| v["gender"] == gender));
    }
    let r = s
        .get("/v1/voices?language=en&gender=male", Some(&a.live.key))
        .await;
    assert!(data(&r).iter().all(|v| v["gender"] == "male"));
    let r = s.get("/v1/voices?language=xx", Some(&a.live.key)).await;
    assert!(data(&r).is_empty());
    let r = s.get("/v1/voices?accent=british", Some(&a.live.key)).await;
    assert_eq!(fields(&assert_validation(&r, &[])), ["accent"]);

    // One voice.
    let r = s
        .get(&format!("/v1/voices/{VOICE}"), Some(&a.live.key))
        .await;
    assert_eq!(r.status, 200, "{}", r.json);
    assert_eq!(&r.json, sarah);
    // The test key sees the same public catalogue.
    let r = s.get("/v1/voices", Some(&a.test.key)).await;
    assert_eq!(data(&r).len(), voices.len());
}

#[tokio::test]
async fn public_avatars_and_signed_downloads() {
    let s = Server::start().await;
    let a = s.account("Plus", 0).await;
    let r = s.get("/v1/avatars", Some(&a.live.key)).await;
    let avatars = data(&r).clone();
    assert_eq!(avatars.len(), 4);
    let mut ids: Vec<&str> = avatars
        .iter()
        .map(|v| v["avatar_id"].as_str().unwrap())
        .collect();
    ids.sort_unstable();
    let mut want = PUBLIC_AVATARS.to_vec();
    want.sort_unstable();
    assert_eq!(ids, want);
    for av in &avatars {
        assert_keys(
            av,
            &["avatar_id", "name", "owner", "image_url", "created_at"],
        );
        assert_eq!(av["owner"], "public");
        let url = av["image_url"].as_str().unwrap();
        // The download needs no key.
        let img = s.send(s.client.get(url)).await;
        assert_eq!(img.status, 200, "{url}");
        assert_eq!(img.header("content-type"), Some("image/png"));
        assert!(img.bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "PNG magic");
        assert_request_id(&img);
    }
    // One avatar.
    let id = avatars[0]["avatar_id"].as_str().unwrap();
    let r = s.get(&format!("/v1/avatars/{id}"), Some(&a.live.key)).await;
    assert_eq!(r.status, 200, "{}", r.json);
    assert_eq!(r.json["avatar_id"], id);

    // Tampered, stale, missing or mismatched signatures: 403 FORBIDDEN, no key needed.
    let url = avatars[0]["image_url"].as_str().unwrap().to_string();
    let sig_at = url.find("signature=").unwrap() + "signature=".len();
    let mut tampered = url.clone();
    let last = tampered.pop().unwrap();
    tampered.push(if last == '0' { '1' } else { '0' });
    let other_path = url.replace(
        &format!("{id}.png"),
        &format!("{}.png", avatars[1]["avatar_id"].as_str().unwrap()),
    );
    let no_sig = url[..sig_at - "&signature=".len()].to_string();
    let expires_at = url.find("expires=").unwrap() + "expires=".len();
    let expires_end = url[expires_at..].find('&').unwrap() + expires_at;
    let bumped: i64 = url[expires_at..expires_end].parse::<i64>().unwrap() + 1;
    let other_expiry = format!("{}{}{}", &url[..expires_at], bumped, &url[expires_end..]);
    for bad in [
        tampered,
        other_path,
        no_sig,
        other_expiry,
        format!("{}/v1/files/x?expires=1&signature=00", s.base()),
        format!("{}/v1/files/avatars/public/{id}.png", s.base()),
        format!(
            "{}/v1/files/avatars/public/{id}.png?expires=99999999999&signature=zz",
            s.base()
        ),
    ] {
        let r = s.send(s.client.get(&bad)).await;
        assert_error_no_details(&r, 403, "FORBIDDEN");
    }
}
