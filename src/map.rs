//! A 2-D map of the embedding space: PCA projection to a labelled SVG scatter plot, and the
//! TensorBoard projector's `vectors.tsv` + `metadata.tsv`.

use crate::error::{Error, Result};
use crate::io::{AtomicFile, Embeddings};
use std::io::Write;
use std::path::Path;

/// The rows to plot: the listed words (each must exist) or the `top` most frequent.
pub fn select(emb: &Embeddings, words: Option<&[String]>, top: usize) -> Result<Vec<usize>> {
    match words {
        Some(list) => list
            .iter()
            .map(|w| {
                emb.words.iter().position(|x| x == w).ok_or_else(|| {
                    Error::usage("--words", format!("{w:?} is not in the vectors file"))
                })
            })
            .collect(),
        None => Ok((0..top.min(emb.len())).collect()),
    }
}

/// Projects unit-normalised rows onto their first two principal components (power
/// iteration with deflation on the D×D covariance matrix, f64 accumulation).
pub fn pca_2d(emb: &Embeddings, rows: &[usize]) -> Vec<[f64; 2]> {
    let d = emb.dim;
    let n = rows.len().max(1);
    let data: Vec<Vec<f64>> = rows
        .iter()
        .map(|&r| {
            let v = emb.row(r);
            let norm = v
                .iter()
                .map(|x| (*x as f64).powi(2))
                .sum::<f64>()
                .sqrt()
                .max(1e-12);
            v.iter().map(|&x| x as f64 / norm).collect()
        })
        .collect();
    let mean: Vec<f64> = (0..d)
        .map(|j| data.iter().map(|r| r[j]).sum::<f64>() / n as f64)
        .collect();
    let centred: Vec<Vec<f64>> = data
        .iter()
        .map(|r| r.iter().zip(&mean).map(|(x, m)| x - m).collect())
        .collect();
    let mut cov = vec![0.0f64; d * d];
    for r in &centred {
        for i in 0..d {
            for j in 0..d {
                cov[i * d + j] += r[i] * r[j];
            }
        }
    }
    let mut comps: Vec<Vec<f64>> = Vec::new();
    for c in 0..2 {
        let mut v: Vec<f64> = (0..d)
            .map(|i| 1.0 + ((i * 7 + c * 13) % 11) as f64 * 0.1)
            .collect();
        for _ in 0..300 {
            let mut w: Vec<f64> = (0..d)
                .map(|i| (0..d).map(|j| cov[i * d + j] * v[j]).sum())
                .collect();
            for p in &comps {
                let dot: f64 = w.iter().zip(p).map(|(a, b)| a * b).sum();
                w.iter_mut().zip(p).for_each(|(a, b)| *a -= dot * b);
            }
            let norm = w.iter().map(|x| x * x).sum::<f64>().sqrt();
            if norm < 1e-300 {
                break;
            }
            v = w.into_iter().map(|x| x / norm).collect();
        }
        comps.push(v);
    }
    centred
        .iter()
        .map(|r| {
            let p = |c: &Vec<f64>| r.iter().zip(c).map(|(a, b)| a * b).sum::<f64>();
            [p(&comps[0]), p(&comps[1])]
        })
        .collect()
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

const WIDTH: f64 = 1000.0;
const HEIGHT: f64 = 800.0;
const MARGIN: f64 = 50.0;

/// Points scaled into the plot area (room left on the right for labels), y pointing down.
fn layout(points: &[[f64; 2]]) -> Vec<(f64, f64)> {
    let (w, h, m) = (WIDTH, HEIGHT, MARGIN);
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for p in points {
        x0 = x0.min(p[0]);
        x1 = x1.max(p[0]);
        y0 = y0.min(p[1]);
        y1 = y1.max(p[1]);
    }
    let sx = (w - 2.0 * m - 80.0) / (x1 - x0).max(1e-12);
    let sy = (h - 2.0 * m - 20.0) / (y1 - y0).max(1e-12);
    points
        .iter()
        .map(|p| (m + (p[0] - x0) * sx, h - m - (p[1] - y0) * sy))
        .collect()
}

/// Writes a labelled scatter plot as PNG (atomically): dots and 8×8-pixel labels.
pub fn write_png(path: &Path, title: &str, labels: &[&str], points: &[[f64; 2]]) -> Result<()> {
    use font8x8::UnicodeFonts;
    let (w, h) = (WIDTH as usize, HEIGHT as usize);
    let mut img = vec![255u8; w * h * 3];
    let mut put = |x: i64, y: i64, rgb: [u8; 3]| {
        if x >= 0 && y >= 0 && (x as usize) < w && (y as usize) < h {
            let i = (y as usize * w + x as usize) * 3;
            img[i..i + 3].copy_from_slice(&rgb);
        }
    };
    let text = |put: &mut dyn FnMut(i64, i64, [u8; 3]), s: &str, x: i64, y: i64, scale: i64| {
        for (n, ch) in s.chars().enumerate() {
            let glyph = font8x8::BASIC_FONTS
                .get(ch)
                .or_else(|| font8x8::BASIC_FONTS.get('?'));
            let Some(glyph) = glyph else { continue };
            for (row, bits) in glyph.iter().enumerate() {
                for col in 0..8 {
                    if bits & (1 << col) != 0 {
                        for dy in 0..scale {
                            for dx in 0..scale {
                                put(
                                    x + (n as i64 * 8 + col) * scale + dx,
                                    y + row as i64 * scale + dy,
                                    [0x33, 0x33, 0x33],
                                );
                            }
                        }
                    }
                }
            }
        }
    };
    text(&mut put, title, MARGIN as i64, 20, 2);
    for (label, (x, y)) in labels.iter().zip(layout(points)) {
        let (cx, cy) = (x.round() as i64, y.round() as i64);
        for dy in -3i64..=3 {
            for dx in -3i64..=3 {
                if dx * dx + dy * dy <= 9 {
                    put(cx + dx, cy + dy, [0x1f, 0x77, 0xb4]);
                }
            }
        }
        text(&mut put, label, cx + 6, cy - 4, 1);
    }
    let mut f = AtomicFile::create(path)?;
    let res = (|| -> std::result::Result<(), png::EncodingError> {
        let mut enc = png::Encoder::new(f.writer(), w as u32, h as u32);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        let mut writer = enc.write_header()?;
        writer.write_image_data(&img)?;
        writer.finish()
    })();
    res.map_err(|e| Error::io(path, std::io::Error::other(e.to_string())))?;
    f.commit()
}

/// Writes a labelled scatter plot as SVG (atomically).
pub fn write_svg(path: &Path, title: &str, labels: &[&str], points: &[[f64; 2]]) -> Result<()> {
    let (w, h, m) = (WIDTH, HEIGHT, MARGIN);
    let mut f = AtomicFile::create(path)?;
    let out = f.writer();
    let res = (|| -> std::io::Result<()> {
        writeln!(
            out,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif">"#
        )?;
        writeln!(
            out,
            r##"<rect width="100%" height="100%" fill="#ffffff"/>"##
        )?;
        writeln!(
            out,
            r##"<text x="{m}" y="30" font-size="16" fill="#222">{}</text>"##,
            escape(title)
        )?;
        for (label, (x, y)) in labels.iter().zip(layout(points)) {
            writeln!(
                out,
                r##"<circle cx="{x:.1}" cy="{y:.1}" r="3" fill="#1f77b4"/>"##
            )?;
            writeln!(
                out,
                r##"<text x="{:.1}" y="{:.1}" font-size="12" fill="#333">{}</text>"##,
                x + 5.0,
                y + 4.0,
                escape(label)
            )?;
        }
        writeln!(out, "</svg>")
    })();
    res.map_err(|e| Error::io(path, e))?;
    f.commit()
}

/// Writes `vectors.tsv` and `metadata.tsv` for projector.tensorflow.org into `dir`.
pub fn write_projector(dir: &Path, emb: &Embeddings, rows: &[usize]) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let vp = dir.join("vectors.tsv");
    let mut v = AtomicFile::create(&vp)?;
    let mp = dir.join("metadata.tsv");
    let mut md = AtomicFile::create(&mp)?;
    for &r in rows {
        let line: Vec<String> = emb.row(r).iter().map(|x| format!("{x}")).collect();
        writeln!(v.writer(), "{}", line.join("\t")).map_err(|e| Error::io(&vp, e))?;
        writeln!(md.writer(), "{}", emb.words[r]).map_err(|e| Error::io(&mp, e))?;
    }
    v.commit()?;
    md.commit()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pca_separates_two_clusters_along_the_first_axis() {
        let mut vectors = Vec::new();
        let mut words = Vec::new();
        for i in 0..10 {
            let s = if i < 5 { 1.0 } else { -1.0 };
            vectors.extend_from_slice(&[s, 0.1 * i as f32, 0.05, 0.3]);
            words.push(format!("w{i}"));
        }
        let emb = Embeddings {
            words,
            dim: 4,
            vectors,
        };
        let rows: Vec<usize> = (0..10).collect();
        let p = pca_2d(&emb, &rows);
        let left = p[..5].iter().all(|q| q[0] < 0.0) && p[5..].iter().all(|q| q[0] > 0.0);
        let right = p[..5].iter().all(|q| q[0] > 0.0) && p[5..].iter().all(|q| q[0] < 0.0);
        assert!(left || right, "{p:?}");
        let dir = tempfile::tempdir().unwrap();
        let svg = dir.path().join("m.svg");
        let labels: Vec<&str> = emb.words.iter().map(|s| s.as_str()).collect();
        write_svg(&svg, "t <&>", &labels, &p).unwrap();
        let s = std::fs::read_to_string(&svg).unwrap();
        assert!(s.contains("<svg") && s.contains("w9") && s.contains("t &lt;&amp;&gt;"));
        let png_path = dir.path().join("m.png");
        write_png(&png_path, "title", &labels, &p).unwrap();
        let bytes = std::fs::read(&png_path).unwrap();
        assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"));
        write_projector(&dir.path().join("proj"), &emb, &rows).unwrap();
        let meta = std::fs::read_to_string(dir.path().join("proj/metadata.tsv")).unwrap();
        assert_eq!(meta.lines().count(), 10);
    }
}
