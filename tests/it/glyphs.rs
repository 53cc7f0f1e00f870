//! Issue 13 §5 over HTTP: overlay text the renderer cannot draw (an emoji, a character
//! no installed font has) is refused at creation with `VALIDATION_ERROR` on the text
//! field naming the character, and nothing is charged; text in other writing systems is
//! accepted.

use crate::support::{assert_validation, Server, SLIDESHOW};
use serde_json::json;

#[tokio::test]
async fn undrawable_overlay_text_is_refused_naming_the_character() {
    let s = Server::start().await;
    let acct = s.account("Pro", 100).await;
    let key = &acct.live.key;
    let with_text = |content: &str| {
        let mut body = s.slideshow(6);
        body["elements_config"] = json!({ "enabled": true, "text": { "content": content } });
        body
    };
    for (content, shown, point) in [
        ("Open house 🏡 Sunday", "🏡", "U+1F3E1"),
        // A text-style symbol asked to show as a colour picture (VS16).
        ("Sunny \u{2600}\u{FE0F} terrace", "\u{2600}", "U+2600"),
        ("Flag 🇩🇪 flies", "\u{1F1E9}", "U+1F1E9"),
        // Unassigned: no font anywhere has it.
        ("Greek \u{0378} gap", "\u{0378}", "U+0378"),
    ] {
        let r = s.post(SLIDESHOW, key, &with_text(content)).await;
        let errors = assert_validation(&r, &[]);
        let (_, message) = errors
            .iter()
            .find(|(f, _)| f == "elements_config.text.content")
            .unwrap_or_else(|| panic!("no text error for {content:?}: {}", r.json));
        assert!(
            message.contains(shown) && message.contains(point),
            "{content:?}: {message}"
        );
        assert_eq!(errors.len(), 1, "{}", r.json);
    }
    assert_eq!(
        s.assert_ledger_consistent(&acct).await,
        100,
        "nothing charged"
    );

    // Every listed writing system draws, so it is accepted (and charged as usual).
    let r = s
        .post(
            SLIDESHOW,
            key,
            &with_text("Ωραίο σπίτι · Дом · 阳光 · منزل جميل! · בית יפה. · घर · บ้าน"),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.json);
    assert_eq!(s.assert_ledger_consistent(&acct).await, 95);
}
