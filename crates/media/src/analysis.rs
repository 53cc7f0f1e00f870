//! Pixel measurements that drive scene planning (api.md §8.2): sharpness, exposure,
//! colourfulness, how much of the top of the picture looks like sky, and where the most
//! detailed region is (the target of the Ken Burns motion).
//!
//! Everything is measured on a thumbnail of at most [`ANALYSIS_WIDTH`] pixels: the
//! measures are about the picture's overall character, and a thumbnail keeps analysis of
//! fifteen photos well under a second.

use std::path::Path;

use image::{imageops::FilterType, DynamicImage, GenericImageView, RgbImage};

pub const ANALYSIS_WIDTH: u32 = 256;

/// Grid used to locate the most detailed region.
const GRID: usize = 8;

#[derive(Debug, Clone, PartialEq)]
pub struct ImageMetrics {
    /// Pixel size as displayed (after the EXIF orientation).
    pub width: u32,
    pub height: u32,
    /// Variance of the Laplacian of luma (0..255 scale) on the thumbnail; higher = sharper.
    pub sharpness: f64,
    /// 0..1: 1 for a mid-grey mean luma with nothing clipped, falling with distance from
    /// mid-grey and with the share of crushed or blown pixels.
    pub exposure: f64,
    /// Hasler–Süsstrunk colourfulness (0 = grey, ~30 moderately, 100+ extremely colourful).
    pub colourfulness: f64,
    /// Share of the top third that looks like sky: blue-dominant or bright and unsaturated,
    /// and smooth.
    pub sky_fraction: f64,
    /// Of the top third: share that is blue sky (blue-dominant, bright enough, smooth).
    pub blue_sky: f64,
    /// Share of the whole picture that looks like vegetation (green-dominant, textured).
    pub greenery: f64,
    /// Centre of the most detailed region, in 0..1 image coordinates.
    pub detail_center: (f64, f64),
    /// What the photo shows, when a labeller saw it (`None`: no labeller installed, or
    /// it was not sure). Filled after the pixel measures, by the caller.
    pub room: Option<peakreel_rooms::Room>,
}

impl ImageMetrics {
    /// Exterior shots are recognised by sky at the top. Blue sky decides alone; a bright,
    /// neutral top (overcast sky, but also white ceilings) counts only with vegetation in
    /// the picture, because interiors with white ceilings were the classifier's only
    /// mistakes on the test photos. Thresholds were set on the 48 labelled photos of
    /// shared/testdata (interiors: blue sky ≤ 0.27, greenery ≤ 0.02; exteriors: blue sky
    /// ≥ 0.40), halfway between the classes.
    pub fn is_exterior(&self) -> bool {
        self.blue_sky >= 0.33 || (self.sky_fraction >= 0.5 && self.greenery >= 0.05)
    }

    /// Whether the photo shows the outside, for choosing what opens and closes a video:
    /// the room label when there is one that says (exterior or garden/pool: yes; a room
    /// inside: no), else the pixel judgement of [`ImageMetrics::is_exterior`] (which the
    /// labeller itself leans on, so it never reads the label).
    pub fn shows_outside(&self) -> bool {
        use peakreel_rooms::Room;
        match self.room {
            Some(Room::Exterior | Room::GardenPool) => true,
            None | Some(Room::Other) => self.is_exterior(),
            Some(_) => false,
        }
    }

    pub fn is_portrait(&self) -> bool {
        self.height > self.width
    }
}

/// Decodes an image file by its content (not its extension) and measures it.
pub fn analyze_file(path: &Path) -> Result<ImageMetrics, String> {
    let img = decode(path)?;
    Ok(analyze(&img))
}

/// Decodes by content through the one decode path (`peakreel-photo`: first frame, EXIF
/// orientation, ICC profile to sRGB, alpha flattened), at full size; the error is a
/// short human reason.
pub fn decode(path: &Path) -> Result<DynamicImage, String> {
    peakreel_photo::decode_file(path, &peakreel_photo::Options::full())
        .map(|p| p.image)
        .map_err(|e| e.to_string())
}

/// Decodes an image by its content through the one decode path (orientation, colour
/// profile, alpha flattened, at most 100 megapixels), reduced (never enlarged, aspect
/// kept) to the smallest size covering `cover` (width, height). A JPEG is decoded at 1/2, 1/4 or 1/8 scale where that still
/// covers it, so a 99-megapixel photo never exists at full size in memory.
pub fn decode_bytes_covering(bytes: &[u8], cover: (u32, u32)) -> Result<DynamicImage, String> {
    let options = peakreel_photo::Options {
        cover: Some(cover),
        ..peakreel_photo::Options::full()
    };
    peakreel_photo::decode(bytes, &options)
        .map(|p| p.image)
        .map_err(|e| e.to_string())
}

pub fn analyze(img: &DynamicImage) -> ImageMetrics {
    let (width, height) = img.dimensions();
    let thumb: RgbImage = if width > ANALYSIS_WIDTH {
        let h = ((height as f64 * ANALYSIS_WIDTH as f64 / width as f64).round() as u32).max(1);
        img.resize_exact(ANALYSIS_WIDTH, h, FilterType::Triangle)
            .to_rgb8()
    } else {
        img.to_rgb8()
    };
    let (w, h) = (thumb.width() as usize, thumb.height() as usize);
    let px: Vec<[f64; 3]> = thumb
        .pixels()
        .map(|p| [p[0] as f64, p[1] as f64, p[2] as f64])
        .collect();
    let luma: Vec<f64> = px
        .iter()
        .map(|p| 0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2])
        .collect();

    // 4-neighbour Laplacian; borders count as zero response.
    let mut lap = vec![0.0; w * h];
    if w >= 3 && h >= 3 {
        for y in 1..h - 1 {
            for x in 1..w - 1 {
                let i = y * w + x;
                lap[i] = luma[i - 1] + luma[i + 1] + luma[i - w] + luma[i + w] - 4.0 * luma[i];
            }
        }
    }
    let inner = ((w.saturating_sub(2)) * (h.saturating_sub(2))).max(1) as f64;
    let mean_lap = lap.iter().sum::<f64>() / inner;
    let sharpness = lap.iter().map(|v| (v - mean_lap).powi(2)).sum::<f64>() / inner;

    let n = (w * h).max(1) as f64;
    let mean_luma = luma.iter().sum::<f64>() / n / 255.0;
    let clipped = luma
        .iter()
        .filter(|&&l| !(5.0..=250.0).contains(&l))
        .count() as f64
        / n;
    let exposure = (1.0 - 2.0 * (mean_luma - 0.5).abs() - 2.0 * clipped).clamp(0.0, 1.0);

    let (mut srg, mut syb, mut srg2, mut syb2) = (0.0, 0.0, 0.0, 0.0);
    for p in &px {
        let rg = p[0] - p[1];
        let yb = 0.5 * (p[0] + p[1]) - p[2];
        srg += rg;
        syb += yb;
        srg2 += rg * rg;
        syb2 += yb * yb;
    }
    let (mrg, myb) = (srg / n, syb / n);
    let var_rg = (srg2 / n - mrg * mrg).max(0.0);
    let var_yb = (syb2 / n - myb * myb).max(0.0);
    let colourfulness = (var_rg + var_yb).sqrt() + 0.3 * (mrg * mrg + myb * myb).sqrt();

    let top = (h / 3).max(1);
    let (mut sky, mut blue_sky) = (0usize, 0usize);
    for y in 0..top {
        for x in 0..w {
            let i = y * w + x;
            let [r, g, b] = px[i];
            let max = r.max(g).max(b);
            let min = r.min(g).min(b);
            let sat = if max > 0.0 { (max - min) / max } else { 0.0 };
            let blue = b > r + 8.0 && b >= g - 4.0 && max > 90.0;
            let overcast = luma[i] > 185.0 && sat < 0.12;
            let smooth = lap[i].abs() < 12.0;
            if (blue || overcast) && smooth {
                sky += 1;
            }
            if blue && smooth {
                blue_sky += 1;
            }
        }
    }
    let sky_fraction = sky as f64 / (top * w).max(1) as f64;
    let blue_sky = blue_sky as f64 / (top * w).max(1) as f64;
    let greenery = px
        .iter()
        .zip(&lap)
        .filter(|([r, g, b], l)| *g > *r + 6.0 && *g > *b + 6.0 && l.abs() >= 6.0)
        .count() as f64
        / n;

    ImageMetrics {
        width,
        height,
        sharpness,
        exposure,
        colourfulness,
        sky_fraction,
        blue_sky,
        greenery,
        detail_center: detail_center(&lap, w, h),
        room: None,
    }
}

/// Centre of the 3×3-cell window (of an 8×8 grid) with the most Laplacian energy.
fn detail_center(lap: &[f64], w: usize, h: usize) -> (f64, f64) {
    if w < GRID || h < GRID {
        return (0.5, 0.5);
    }
    let mut cells = [[0.0f64; GRID]; GRID];
    for y in 0..h {
        for x in 0..w {
            cells[y * GRID / h][x * GRID / w] += lap[y * w + x].abs();
        }
    }
    let mut best = (f64::MIN, 0, 0);
    for cy in 0..GRID - 2 {
        for cx in 0..GRID - 2 {
            let mut e = 0.0;
            for row in cells.iter().skip(cy).take(3) {
                e += row[cx..cx + 3].iter().sum::<f64>();
            }
            // Ties (a flat picture) go to the window nearest the centre.
            let off_centre = (cx as f64 - 2.5).abs() + (cy as f64 - 2.5).abs();
            let e = e - off_centre * 1e-9;
            if e > best.0 {
                best = (e, cx, cy);
            }
        }
    }
    let c = |i: usize| (i as f64 + 1.5) / GRID as f64;
    (c(best.1), c(best.2))
}

/// One number per image for "strongest": sharpness, exposure and colourfulness, each
/// ranked within the set (0 = weakest, 1 = strongest) and averaged with sharpness and
/// exposure weighted above colour. Ranks, not raw values, because the three measures live
/// on unrelated scales and a single outlier must not dominate.
pub fn strength(all: &[ImageMetrics]) -> Vec<f64> {
    let n = all.len();
    if n <= 1 {
        return vec![1.0; n];
    }
    let rank = |key: &dyn Fn(&ImageMetrics) -> f64| -> Vec<f64> {
        let mut idx: Vec<usize> = (0..n).collect();
        idx.sort_by(|&a, &b| key(&all[a]).total_cmp(&key(&all[b])));
        let mut r = vec![0.0; n];
        for (pos, &i) in idx.iter().enumerate() {
            r[i] = pos as f64 / (n - 1) as f64;
        }
        r
    };
    let s = rank(&|m| m.sharpness);
    let e = rank(&|m| m.exposure);
    let c = rank(&|m| m.colourfulness);
    (0..n)
        .map(|i| 0.4 * s[i] + 0.35 * e[i] + 0.25 * c[i])
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{Rgb, RgbImage};

    /// The dry run and the avatar route decode at the size they need: a large JPEG comes
    /// back reduced, still covering the asked size, its aspect kept.
    #[test]
    fn covering_decode_reduces_and_still_covers() {
        let big = img(4000, 3000, |x, y| [(x % 256) as u8, (y % 256) as u8, 90]);
        let mut jpeg = Vec::new();
        big.write_to(
            &mut std::io::Cursor::new(&mut jpeg),
            image::ImageFormat::Jpeg,
        )
        .unwrap();
        let small = decode_bytes_covering(&jpeg, (600, 400)).unwrap();
        let (w, h) = small.dimensions();
        assert!(w >= 600 && h >= 400, "{w}x{h} does not cover 600x400");
        assert!(w < 1000, "{w}x{h} was not reduced");
        assert!((w as f64 / h as f64 - 4.0 / 3.0).abs() < 0.02, "{w}x{h}");
        // Never enlarged.
        let same = decode_bytes_covering(&jpeg, (8000, 6000)).unwrap();
        assert_eq!(same.dimensions(), (4000, 3000));
    }

    fn img(w: u32, h: u32, f: impl Fn(u32, u32) -> [u8; 3]) -> DynamicImage {
        DynamicImage::ImageRgb8(RgbImage::from_fn(w, h, |x, y| Rgb(f(x, y))))
    }

    /// A deterministic texture (no RNG crate needed).
    fn noise(x: u32, y: u32) -> u8 {
        let mut v = x.wrapping_mul(374_761_393) ^ y.wrapping_mul(668_265_263);
        v = (v ^ (v >> 13)).wrapping_mul(1_274_126_177);
        (v >> 24) as u8
    }

    #[test]
    fn sharp_texture_beats_its_blurred_copy() {
        let sharp = img(300, 200, |x, y| {
            let v = noise(x, y);
            [v, v, v]
        });
        let blurred = sharp.blur(3.0);
        assert!(analyze(&sharp).sharpness > 10.0 * analyze(&blurred).sharpness);
    }

    #[test]
    fn exposure_prefers_mid_tones() {
        let mid = analyze(&img(100, 100, |x, _| [100 + (x % 50) as u8; 3]));
        let dark = analyze(&img(100, 100, |_, _| [2, 2, 2]));
        let blown = analyze(&img(100, 100, |_, _| [255, 255, 255]));
        assert!(mid.exposure > 0.8, "{}", mid.exposure);
        assert!(dark.exposure < 0.1 && blown.exposure < 0.1);
    }

    #[test]
    fn colourfulness_is_zero_for_grey() {
        let grey = analyze(&img(100, 100, |x, y| [noise(x, y); 3]));
        let vivid = analyze(&img(100, 100, |x, _| {
            if x < 50 {
                [230, 20, 20]
            } else {
                [20, 40, 230]
            }
        }));
        assert!(grey.colourfulness < 1.0);
        assert!(vivid.colourfulness > 80.0, "{}", vivid.colourfulness);
    }

    #[test]
    fn blue_smooth_top_is_sky_and_beige_room_is_not() {
        let outdoor = analyze(&img(240, 160, |x, y| {
            if y < 70 {
                [110, 160, 225]
            } else {
                let v = noise(x, y) / 2;
                [60 + v, 90 + v, 40]
            }
        }));
        let room = analyze(&img(240, 160, |x, y| {
            let v = noise(x, y) / 16;
            [200 + v, 185 + v, 160 + v]
        }));
        assert!(outdoor.is_exterior(), "{}", outdoor.sky_fraction);
        assert!(!room.is_exterior(), "{}", room.sky_fraction);
    }

    #[test]
    fn detail_centre_finds_the_busy_corner() {
        let m = analyze(&img(320, 240, |x, y| {
            if x > 220 && y < 80 {
                [noise(x, y); 3]
            } else {
                [120, 120, 120]
            }
        }));
        let (cx, cy) = m.detail_center;
        assert!(cx > 0.6 && cy < 0.4, "{cx},{cy}");
    }

    #[test]
    fn strength_ranks_the_sharp_well_exposed_colourful_image_first() {
        let good = analyze(&img(200, 150, |x, y| {
            let v = noise(x, y) / 2;
            [100 + v, 60 + v / 2, 140]
        }));
        let dull = analyze(&img(200, 150, |_, _| [20, 20, 20]));
        let s = strength(&[dull, good]);
        assert!(s[1] > s[0]);
    }

    #[test]
    fn garbage_is_refused_with_a_reason() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.jpg");
        std::fs::write(&p, b"\xFF\xD8\xFF\xE0 this is not really a jpeg").unwrap();
        assert!(analyze_file(&p).is_err());
        std::fs::write(&p, b"hello").unwrap();
        assert!(analyze_file(&p).unwrap_err().contains("not a JPEG"));
    }
}
