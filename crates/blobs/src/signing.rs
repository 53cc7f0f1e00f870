//! Signed, expiring file URLs (api.md §7): HMAC-SHA256 with a server secret over the path
//! and the expiry. Verification is constant-time.

use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

pub struct UrlSigner {
    secret: Vec<u8>,
    public_url: String,
}

impl UrlSigner {
    pub fn new(secret: Vec<u8>, public_url: &str) -> Self {
        UrlSigner {
            secret,
            public_url: public_url.trim_end_matches('/').to_string(),
        }
    }

    fn mac(&self, path: &str, expires: i64) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.secret).expect("HMAC takes any key length");
        mac.update(path.as_bytes());
        mac.update(b"\n");
        mac.update(expires.to_string().as_bytes());
        mac
    }

    /// Absolute URL for the storage key `path`, valid until `expires` (unix seconds).
    pub fn sign(&self, path: &str, expires: i64) -> String {
        let signature = hex::encode(self.mac(path, expires).finalize().into_bytes());
        format!(
            "{}/v1/files/{path}?expires={expires}&signature={signature}",
            self.public_url
        )
    }

    pub fn verify(&self, path: &str, expires: i64, signature_hex: &str, now: i64) -> bool {
        if expires < now {
            return false;
        }
        let Ok(signature) = hex::decode(signature_hex) else {
            return false;
        };
        self.mac(path, expires).verify_slice(&signature).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_bind_path_and_expiry() {
        let s = UrlSigner::new(b"secret".to_vec(), "http://h:1/");
        let url = s.sign("avatars/a.png", 2000);
        let sig = url.split("signature=").nth(1).unwrap();
        assert!(url.starts_with("http://h:1/v1/files/avatars/a.png?expires=2000&"));
        assert!(s.verify("avatars/a.png", 2000, sig, 1000));
        assert!(!s.verify("avatars/a.png", 2000, sig, 2001), "stale");
        assert!(!s.verify("avatars/b.png", 2000, sig, 1000), "other path");
        assert!(!s.verify("avatars/a.png", 2001, sig, 1000), "other expiry");
        assert!(!s.verify("avatars/a.png", 2000, "zz", 1000));
    }
}
