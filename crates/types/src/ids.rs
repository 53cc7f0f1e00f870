//! Id formats (api.md §1): `task_` + 24 alphanumerics, `req_` + 24, keys
//! `vpk_{live,test}_` + 32, webhook secrets `whsec_` + 32, voices 20 alphanumerics.

use rand::distributions::Alphanumeric;
use rand::Rng;

pub const TASK_PREFIX: &str = "task_";
pub const REQUEST_PREFIX: &str = "req_";
pub const LIVE_KEY_PREFIX: &str = "vpk_live_";
pub const TEST_KEY_PREFIX: &str = "vpk_test_";
pub const WEBHOOK_SECRET_PREFIX: &str = "whsec_";
/// Uploaded images (Extension `POST /v1/uploads`): `upl_` + 24 alphanumerics.
pub const UPLOAD_PREFIX: &str = "upl_";

/// Random alphanumeric string from the OS-seeded thread RNG (ChaCha-based, fit for secrets).
pub fn random_alphanumeric(len: usize) -> String {
    rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

pub fn new_task_id() -> String {
    format!("{TASK_PREFIX}{}", random_alphanumeric(24))
}

pub fn new_request_id() -> String {
    format!("{REQUEST_PREFIX}{}", random_alphanumeric(24))
}

pub fn new_voice_id() -> String {
    random_alphanumeric(20)
}

pub fn new_upload_id() -> String {
    format!("{UPLOAD_PREFIX}{}", random_alphanumeric(24))
}

pub fn is_upload_id(s: &str) -> bool {
    s.strip_prefix(UPLOAD_PREFIX)
        .is_some_and(|rest| rest.len() == 24 && is_alnum(rest))
}

pub fn new_webhook_secret() -> String {
    format!("{WEBHOOK_SECRET_PREFIX}{}", random_alphanumeric(32))
}

fn is_alnum(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_alphanumeric())
}

pub fn is_task_id(s: &str) -> bool {
    s.strip_prefix(TASK_PREFIX)
        .is_some_and(|rest| rest.len() == 24 && is_alnum(rest))
}

pub fn is_voice_id(s: &str) -> bool {
    s.len() == 20 && is_alnum(s)
}

/// Which of the two key modes a key belongs to; fixed by its prefix for life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Live,
    Test,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Live => "live",
            Mode::Test => "test",
        }
    }

    pub fn key_prefix(self) -> &'static str {
        match self {
            Mode::Live => LIVE_KEY_PREFIX,
            Mode::Test => TEST_KEY_PREFIX,
        }
    }

    pub fn parse(s: &str) -> Option<Mode> {
        match s {
            "live" => Some(Mode::Live),
            "test" => Some(Mode::Test),
            _ => None,
        }
    }
}

pub fn new_api_key(mode: Mode) -> String {
    format!("{}{}", mode.key_prefix(), random_alphanumeric(32))
}

/// The mode of a well-formed key, or `None` for anything malformed.
pub fn parse_api_key(key: &str) -> Option<Mode> {
    for mode in [Mode::Live, Mode::Test] {
        if let Some(rest) = key.strip_prefix(mode.key_prefix()) {
            return (rest.len() == 32 && is_alnum(rest)).then_some(mode);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_match_their_formats() {
        assert!(is_task_id(&new_task_id()));
        assert!(is_voice_id(&new_voice_id()));
        let req = new_request_id();
        assert_eq!(req.len(), 4 + 24);
        assert_eq!(parse_api_key(&new_api_key(Mode::Live)), Some(Mode::Live));
        assert_eq!(parse_api_key(&new_api_key(Mode::Test)), Some(Mode::Test));
        assert_eq!(new_webhook_secret().len(), 6 + 32);
    }

    #[test]
    fn malformed_keys_are_rejected() {
        assert_eq!(parse_api_key("vpk_live_short"), None);
        assert_eq!(
            parse_api_key("vpk_prod_0123456789abcdef0123456789abcdef"),
            None
        );
        assert_eq!(
            parse_api_key("vpk_live_0123456789abcdef0123456789abcde!"),
            None
        );
        assert!(!is_task_id("task_tooshort"));
        assert!(!is_voice_id("EXAVITQu4vr4xnSDxMa-"));
    }
}
