//! What the decode path costs on large photos: a generated JPEG of W×H pixels (a smooth
//! gradient with noise, so it compresses like a photo) decoded as the creation check does
//! (a 64 px thumbnail) and as a 1080p render does (covering 2880×1620), with the time of
//! each and the process's peak memory. Usage: `decode_bench FILE [WIDTH HEIGHT]`: writes
//! the JPEG to FILE when it does not exist (default 12000×8000, 96 MP), else decodes it
//! (two runs, so the decoding run's peak memory is the decode's own). Run by
//! `bench/decode.sh`.

use std::time::Instant;

use image::{Rgb, RgbImage};
use peakreel_photo::{decode, Alpha, Options};

fn main() {
    let file = std::path::PathBuf::from(
        std::env::args()
            .nth(1)
            .expect("usage: decode_bench FILE [W H]"),
    );
    if file.exists() {
        return decode_and_report(&std::fs::read(&file).expect("read"));
    }
    let args: Vec<u32> = std::env::args()
        .skip(2)
        .filter_map(|a| a.parse().ok())
        .collect();
    let (w, h) = match args[..] {
        [w, h] => (w, h),
        _ => (12_000, 8_000),
    };
    let mut seed = 0x2545_F491_4F6C_DD1Du64;
    let img = RgbImage::from_fn(w, h, |x, y| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let n = (seed & 15) as u32;
        Rgb([
            ((x * 200 / w) + n) as u8,
            ((y * 200 / h) + n) as u8,
            (((x + y) * 100 / (w + h)) + n) as u8,
        ])
    });
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 90)
        .encode_image(&img)
        .expect("encode");
    std::fs::write(&file, jpeg).expect("write");
}

fn decode_and_report(jpeg: &[u8]) {
    let rss_before = peak_rss_mib();
    let mut report = Vec::new();
    for (name, cover) in [("creation check", (64, 64)), ("1080p render", (2880, 1620))] {
        let started = Instant::now();
        let photo = decode(
            jpeg,
            &Options {
                max_pixels: u64::MAX,
                cover: Some(cover),
                alpha: Alpha::Flatten,
            },
        )
        .expect("decode");
        report.push(format!(
            "\"{name}\":{{\"seconds\":{:.3},\"out\":\"{}x{}\"}}",
            started.elapsed().as_secs_f64(),
            photo.image.width(),
            photo.image.height()
        ));
    }
    println!(
        "{{\"jpeg_mb\":{:.1},{},\"peak_rss_mb_before\":{},\"peak_rss_mb\":{}}}",
        jpeg.len() as f64 / 1e6,
        report.join(","),
        rss_before,
        peak_rss_mib()
    );
}

fn peak_rss_mib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<u64>().ok())
        })
        .map_or(0, |kib| kib / 1024)
}
