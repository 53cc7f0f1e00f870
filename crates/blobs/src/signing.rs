//! Signed, expiring file URLs (api.md §7). This server's own links are
//! `{public_url}/v1/files/{key}?expires=&signature=`: HMAC-SHA256 with a server secret
//! over the key and the expiry, verified in constant time. With S3 storage and presigned
//! downloads, links are the bucket's own presigned URLs instead.

use crate::{BlobError, Blobs};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::time::Duration;

type HmacSha256 = Hmac<Sha256>;

pub struct UrlSigner {
    secret: Vec<u8>,
    public_url: String,
    /// Set when links are presigned by the storage backend.
    presigning: Option<Blobs>,
}

impl UrlSigner {
    pub fn new(secret: Vec<u8>, public_url: &str) -> Self {
        UrlSigner {
            secret,
            public_url: public_url.trim_end_matches('/').to_string(),
            presigning: None,
        }
    }

    /// Links become `blobs`' presigned URLs when its backend can presign (S3); on any
    /// other backend they stay this server's own.
    pub fn presigning_with(mut self, blobs: Blobs) -> Self {
        self.presigning = Some(blobs).filter(Blobs::can_presign);
        self
    }

    /// Whether links are the storage backend's presigned URLs.
    pub fn presigns(&self) -> bool {
        self.presigning.is_some()
    }

    /// The origin (`scheme://host[:port]`) of download links that are not this
    /// server's: the bucket's, when links are presigned; `None` when links point here.
    pub async fn foreign_origin(&self) -> Result<Option<String>, BlobError> {
        match &self.presigning {
            Some(blobs) => blobs.presigned_origin().await.transpose(),
            None => Ok(None),
        }
    }

    /// A download link for the storage key `key`, valid until `expires` (unix seconds).
    /// Presigned links are valid for at most [`crate::MAX_PRESIGNED_SECS`]. Fails only
    /// when presigning does (the credentials could not be loaded).
    pub async fn link(&self, key: &str, expires: i64) -> Result<String, BlobError> {
        if let Some(blobs) = &self.presigning {
            let now = time_now();
            let valid_for = Duration::from_secs(expires.saturating_sub(now).max(1) as u64);
            if let Some(url) = blobs.presigned_get(key, valid_for).await {
                return url;
            }
        }
        Ok(self.sign(key, expires))
    }

    fn mac(&self, path: &str, expires: i64) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.secret).expect("HMAC takes any key length");
        mac.update(path.as_bytes());
        mac.update(b"\n");
        mac.update(expires.to_string().as_bytes());
        mac
    }

    /// This server's own URL for the storage key `path`, valid until `expires` (unix
    /// seconds), whatever the backend.
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

fn time_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
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
