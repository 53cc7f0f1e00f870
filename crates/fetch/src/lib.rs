//! `peakreel-fetch`: the only way PeakReel reaches a remote URL (images,
//! watermark logos, avatar images, webhooks), built so that a URL from a
//! client cannot make the server talk to itself or its private network.
//!
//! The guard sits where the address is chosen, not in string checks: the host
//! is resolved once per hop through a [`Resolver`], every address must be
//! public (or inside [`FetchPolicy::allow_networks`]), and the TCP connection
//! goes to one of exactly those addresses. Redirects are followed by this
//! crate, each hop checked again. Bodies are streamed under a byte cap and
//! images are judged by their bytes, their header size, then a full decode.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use peakreel_fetch::{FetchPolicy, SafeClient, Target};
//! let client = SafeClient::with_system_resolver(FetchPolicy::default())?;
//! let urls = vec!["https://example.com/a.jpg".to_string()];
//! match client.fetch_images(&urls).await {
//!     Ok(images) => println!("{}x{}", images[0].info.width, images[0].info.height),
//!     Err((i, e)) => {
//!         let api_error = e.into_api_error(&Target::image(i, &urls[i]));
//!         println!("{}", api_error.message);
//!     }
//! }
//! # Ok(()) }
//! ```

mod client;
mod error;
mod image_check;
pub mod ip;
mod policy;
mod resolve;
mod spool;
mod url_check;

pub use client::{
    ClientBuildError, FetchedBody, FetchedImage, FullResponse, PostResponse, SafeClient,
};
pub use error::{FetchError, Target, TimeoutStage};
pub use hyper::header::{HeaderMap, HeaderName, HeaderValue};
pub use image_check::{inspect_image, inspect_image_file, sniff_format, ImageFormat, ImageInfo};
pub use ip::{blocked_range, is_public, BlockedRange};
pub use ipnet::IpNet;
pub use policy::FetchPolicy;
pub use resolve::{ResolveFuture, Resolver, StaticResolver, SystemResolver};
pub use spool::{sweep_spool, ImageBody, SpoolWriter, SpooledFile};
pub use url::Url;
pub use url_check::{check_url_syntax, loggable_url, redact_url};
