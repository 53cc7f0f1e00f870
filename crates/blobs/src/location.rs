//! The `--storage` URL (cli.md): `file://DIR` for a local directory, `s3://BUCKET/PREFIX`
//! for an S3-compatible bucket (the prefix is optional).

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

/// Where blobs live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StorageUrl {
    /// A directory on this machine.
    Local(PathBuf),
    /// A bucket; every key is stored under `prefix/` when the prefix is not empty.
    S3 { bucket: String, prefix: String },
}

/// Why a storage URL was refused; the message names the accepted forms.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("storage URL {url:?} {reason} (use file://DIR or s3://BUCKET/PREFIX)")]
pub struct StorageUrlError {
    pub url: String,
    pub reason: &'static str,
}

impl FromStr for StorageUrl {
    type Err = StorageUrlError;

    fn from_str(url: &str) -> Result<Self, Self::Err> {
        let refuse = |reason| StorageUrlError {
            url: url.to_string(),
            reason,
        };
        if let Some(dir) = url.strip_prefix("file://") {
            if dir.is_empty() {
                return Err(refuse("names no directory"));
            }
            return Ok(StorageUrl::Local(PathBuf::from(dir)));
        }
        let Some(rest) = url.strip_prefix("s3://") else {
            return Err(refuse("has an unsupported scheme"));
        };
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if !valid_bucket(bucket) {
            return Err(refuse(
                "has no valid bucket name (3-63 lowercase letters, digits, dots or hyphens)",
            ));
        }
        let prefix = prefix.trim_end_matches('/');
        let valid_prefix = prefix.is_empty()
            || prefix
                .split('/')
                .all(|seg| !seg.is_empty() && seg != "." && seg != "..");
        if !valid_prefix {
            return Err(refuse("has an empty, `.` or `..` segment in its prefix"));
        }
        Ok(StorageUrl::S3 {
            bucket: bucket.to_string(),
            prefix: prefix.to_string(),
        })
    }
}

impl fmt::Display for StorageUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StorageUrl::Local(dir) => write!(f, "file://{}", dir.display()),
            StorageUrl::S3 { bucket, prefix } if prefix.is_empty() => write!(f, "s3://{bucket}"),
            StorageUrl::S3 { bucket, prefix } => write!(f, "s3://{bucket}/{prefix}"),
        }
    }
}

/// S3's bucket naming rules, minus the ones only AWS enforces (reserved prefixes).
fn valid_bucket(name: &str) -> bool {
    let edge_ok = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    (3..=63).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-')
        && edge_ok(name.chars().next())
        && edge_ok(name.chars().last())
        && !name.contains("..")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_forms_and_prints_them_back() {
        for (url, expected) in [
            ("file:///var/media", StorageUrl::Local("/var/media".into())),
            (
                "s3://reels",
                StorageUrl::S3 {
                    bucket: "reels".into(),
                    prefix: String::new(),
                },
            ),
            (
                "s3://my.reels-1/prod/eu/",
                StorageUrl::S3 {
                    bucket: "my.reels-1".into(),
                    prefix: "prod/eu".into(),
                },
            ),
        ] {
            let parsed: StorageUrl = url.parse().unwrap();
            assert_eq!(parsed, expected, "{url}");
            assert_eq!(parsed.to_string(), url.trim_end_matches('/'));
        }
    }

    #[test]
    fn refuses_what_cannot_be_a_bucket_or_prefix() {
        for bad in [
            "",
            "/var/media",
            "file://",
            "gs://bucket",
            "s3://",
            "s3://ab",
            "s3://Upper",
            "s3://-edge",
            "s3://a..b",
            "s3://bucket//x",
            "s3://bucket/a/../b",
        ] {
            let err = bad.parse::<StorageUrl>().unwrap_err();
            assert!(
                err.to_string().contains("s3://BUCKET/PREFIX"),
                "{bad}: {err}"
            );
        }
    }
}
