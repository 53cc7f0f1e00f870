//! The reference to an uploaded image (Extension `POST /v1/uploads`): `upload://upl_…`.
//! It stands wherever a request takes an image URL (images, watermark logo, avatar
//! image) and is resolved from storage instead of being fetched.

use peakreel_types::ids::is_upload_id;

pub const UPLOAD_SCHEME_PREFIX: &str = "upload://";

/// The reference for an upload id, as `POST /v1/uploads` answers it in `url`.
pub fn upload_url(upload_id: &str) -> String {
    format!("{UPLOAD_SCHEME_PREFIX}{upload_id}")
}

/// What a URL string is with respect to uploads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UploadRef<'a> {
    /// Not an upload reference: an ordinary URL to fetch.
    NotUpload,
    /// `upload://` followed by a well-formed upload id.
    Upload(&'a str),
    /// `upload://` followed by anything else.
    Malformed,
}

pub fn parse_upload_ref(url: &str) -> UploadRef<'_> {
    match url.strip_prefix(UPLOAD_SCHEME_PREFIX) {
        None => UploadRef::NotUpload,
        Some(id) if is_upload_id(id) => UploadRef::Upload(id),
        Some(_) => UploadRef::Malformed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_parse_strictly() {
        let id = "upl_abcdefghijklmnopqrstuvwx";
        assert_eq!(parse_upload_ref(&upload_url(id)), UploadRef::Upload(id));
        assert_eq!(
            parse_upload_ref("https://example.com/a.jpg"),
            UploadRef::NotUpload
        );
        for bad in [
            "upload://",
            "upload://upl_short",
            "upload://upl_abcdefghijklmnopqrstuvw!",
            "upload://../x",
        ] {
            assert_eq!(parse_upload_ref(bad), UploadRef::Malformed, "{bad}");
        }
    }
}
