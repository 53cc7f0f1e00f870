//! Benchmark of `fetch_images`: 15 photos of about 2 MB served over HTTPS from
//! loopback, the set fetched 20 times (median and p90 wall time), then 8 sets
//! at once (wall time and peak RSS of this process, server included).
//!
//! `cargo run --release -p peakreel-fetch --example bench_fetch`

#[path = "../tests/common/mod.rs"]
mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::*;
use image::codecs::jpeg::JpegEncoder;
use peakreel_fetch::{inspect_image, FetchPolicy, SafeClient, StaticResolver};

const SET: usize = 15;
const RUNS: usize = 20;
const CONCURRENT: usize = 8;

/// A ~2 MB JPEG: a test photo scaled to 2400×1600 with a little grain (real
/// camera output is noisy, and noise is what makes JPEGs big).
fn big_jpeg(seed: u32, name: &str) -> Vec<u8> {
    let src = image::load_from_memory(&photo_jpeg(name)).unwrap();
    let mut img = src
        .resize_exact(2400, 1600, image::imageops::FilterType::Triangle)
        .to_rgb8();
    let mut state = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    for p in img.pixels_mut() {
        for c in p.0.iter_mut() {
            // xorshift noise in -8..=8
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            let n = (state % 17) as i16 - 8;
            *c = (*c as i16 + n).clamp(0, 255) as u8;
        }
    }
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(&mut out, 94)
        .encode_image(&img)
        .unwrap();
    out
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx]
}

fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1000.0)
}

#[tokio::main]
async fn main() {
    let ca = make_ca();
    let server = start_server("127.0.0.2".parse().unwrap(), &ca).await;
    let names: Vec<String> = match photos_dir() {
        Some(dir) => {
            let mut v: Vec<String> = std::fs::read_dir(dir)
                .unwrap()
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().to_string())
                .filter(|n| n.ends_with(".jpg"))
                .collect();
            v.sort();
            v
        }
        None => vec!["generated.jpg".to_string()],
    };
    let mut total_bytes = 0;
    let mut urls = Vec::new();
    for i in 0..SET {
        let body = big_jpeg(i as u32, &names[i % names.len()]);
        total_bytes += body.len();
        let path = format!("/big{i}.jpg");
        server.route(
            &path,
            Reply::Full {
                status: 200,
                content_type: "image/jpeg",
                body: Bytes::from(body),
            },
        );
        urls.push(server.url(&path));
    }
    println!(
        "set: {SET} JPEGs of 2400x1600, {:.1} MB in all ({:.2} MB each on average)",
        total_bytes as f64 / 1e6,
        total_bytes as f64 / 1e6 / SET as f64
    );

    let policy = FetchPolicy {
        allow_networks: vec!["127.0.0.2/32".parse().unwrap()],
        system_roots: false,
        extra_roots_pem: vec![ca.ca_pem.clone()],
        ..FetchPolicy::default()
    };
    let client = SafeClient::new(policy, Arc::new(StaticResolver::new())).unwrap();

    client.fetch_images(&urls).await.expect("warm-up");
    let mut times = Vec::new();
    for _ in 0..RUNS {
        let t = Instant::now();
        let got = client.fetch_images(&urls).await.expect("fetch");
        times.push(t.elapsed());
        assert_eq!(got.len(), SET);
    }
    times.sort();
    println!(
        "fetch_images x{RUNS}: median {}, p90 {}, min {}, max {} (target < 1 s)",
        ms(percentile(&times, 0.5)),
        ms(percentile(&times, 0.9)),
        ms(times[0]),
        ms(times[times.len() - 1])
    );

    // Where the time goes: the transfer alone (same guarded path, no image
    // check) and the decode check alone, one image after another.
    let mut transfer = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        let mut set = tokio::task::JoinSet::new();
        for u in urls.clone() {
            let c = client.clone();
            set.spawn(async move { c.fetch_bytes(&u).await.map(|b| b.bytes) });
        }
        let mut bodies = Vec::new();
        while let Some(r) = set.join_next().await {
            bodies.push(r.unwrap().expect("fetch_bytes"));
        }
        transfer.push(t.elapsed());
        if transfer.len() == 5 {
            let t = Instant::now();
            for b in &bodies {
                inspect_image(b, 100_000_000).unwrap();
            }
            let d = t.elapsed();
            println!(
                "breakdown: transfer of the set (15 parallel TLS GETs, no decode) median {}; decode check {} per image on one core",
                ms({ transfer.sort(); transfer[2] }),
                ms(d / SET as u32)
            );
        }
    }

    // Start the peak-RSS measurement here, not at process start (the image
    // generation above is not what we are measuring).
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let before = peak_rss_kib();
    let t = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..CONCURRENT {
        let c = client.clone();
        let u = urls.clone();
        tasks.push(tokio::spawn(async move {
            c.fetch_images(&u).await.map(|v| v.len())
        }));
    }
    for task in tasks {
        assert_eq!(task.await.unwrap().expect("fetch"), SET);
    }
    let wall = t.elapsed();
    let peak = peak_rss_kib();
    println!(
        "{CONCURRENT} sets at once ({} images): wall {}; peak RSS {} MiB (was {} MiB before; server and its {:.0} MB of bodies are in this process)",
        CONCURRENT * SET,
        ms(wall),
        peak.map_or("?".into(), |k| (k / 1024).to_string()),
        before.map_or("?".into(), |k| (k / 1024).to_string()),
        total_bytes as f64 / 1e6
    );
}
