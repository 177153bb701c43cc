//! `cargo xtask bench`, UI size part: how many bytes of code the webview loads for the UI.
//!
//! The UI is built as a release app ships it (release wasm, bound by wasm-bindgen into
//! `src-ui/dist`, the same build as the app benchmark's), then every file wasm-bindgen wrote
//! there (the `.wasm`, its JS glue, any JS snippets; not the hand-written static files) is
//! measured as it is and gzip-compressed at level 9. The compressed size is the deflate stream
//! zlib's level 9 writes plus the 18 bytes of gzip's header and trailer (GNU `gzip -9 -n`, whose
//! deflate is its own, comes out about 0.4% smaller). `target/bench/wasm.json` holds the figures. There is no goal: they are
//! compared before and after a change (a dependency of the UI that adds more than 10% to the
//! wasm has to earn it).

use std::fs;
use std::io::{Cursor, Write as _};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde_json::json;

use crate::bench::Machine;
use crate::project::Project;
use crate::step::{Timings, headline, ok};
use crate::ui;

/// gzip's 10-byte header (no file name) and 8-byte trailer (CRC-32, length) around the deflate
/// stream.
const GZIP_FRAME_BYTES: u64 = 18;

/// One file of the bound UI.
struct Shipped {
    /// Relative to `src-ui/dist`, with `/` between folders.
    path: String,
    raw: u64,
    gzip: u64,
}

pub fn run(project: &Project) -> Result<()> {
    let dir = project.bench_dir();
    fs::create_dir_all(&dir).with_context(|| format!("could not create {}", dir.display()))?;
    let report_path = dir.join("wasm.json");
    let mut timings = Timings::default();
    timings.step("release UI (wasm)", || ui::build_profile(project, true))?;
    let files = timings.step("measure the bound UI", || {
        let dist = project.ui_dist_dir();
        let static_dir = project.ui_static_dir();
        let mut files = Vec::new();
        for path in files_under(&dist)? {
            let relative = path.strip_prefix(&dist).unwrap_or(&path);
            // index.html, boot.js and the style sheets are copied in, not generated.
            if static_dir.join(relative).is_file() {
                continue;
            }
            let bytes =
                fs::read(&path).with_context(|| format!("could not read {}", path.display()))?;
            files.push(Shipped {
                path: relative.to_string_lossy().replace('\\', "/"),
                raw: bytes.len() as u64,
                gzip: gzip_size(&bytes)?,
            });
        }
        anyhow::ensure!(
            files.iter().any(|f| f.path.ends_with(".wasm")),
            "wasm-bindgen wrote no .wasm into {}",
            dist.display()
        );
        Ok(files)
    })?;

    let wasm: Vec<&Shipped> = files.iter().filter(|f| f.path.ends_with(".wasm")).collect();
    let total = |pick: fn(&Shipped) -> u64| files.iter().map(pick).sum::<u64>();
    let report = json!({
        "benchmark": "wasm",
        "machine": Machine::this(),
        "build": "release wasm (cargo build --release --target wasm32-unknown-unknown), wasm-bindgen --target web",
        "gzip": "deflate at zlib level 9 plus the 18-byte gzip frame",
        "files": files.iter().map(|f| json!({
            "path": f.path,
            "raw_bytes": f.raw,
            "gzip_bytes": f.gzip,
        })).collect::<Vec<_>>(),
        "wasm_raw_bytes": wasm.iter().map(|f| f.raw).sum::<u64>(),
        "wasm_gzip_bytes": wasm.iter().map(|f| f.gzip).sum::<u64>(),
        "total_raw_bytes": total(|f| f.raw),
        "total_gzip_bytes": total(|f| f.gzip),
    });
    fs::write(&report_path, serde_json::to_string_pretty(&report)? + "\n")
        .with_context(|| format!("could not write {}", report_path.display()))?;
    ok(format!("wrote {}", report_path.display()));

    headline("UI code size (release)");
    print!("{}", table(&files));
    headline("time per step");
    print!("{}", timings.summary());
    Ok(())
}

/// The printed table: one line per file, then the total.
fn table(files: &[Shipped]) -> String {
    let width = files.iter().map(|f| f.path.len()).max().unwrap_or(0).max(5);
    let mut text = format!("  {:<width$}  {:>12}  {:>12}\n", "file", "raw", "gzip");
    let line = |name: &str, raw: u64, gzip: u64| {
        format!("  {name:<width$}  {:>12}  {:>12}\n", kib(raw), kib(gzip))
    };
    for f in files {
        text.push_str(&line(&f.path, f.raw, f.gzip));
    }
    let (raw, gzip) = files
        .iter()
        .fold((0, 0), |(r, g), f| (r + f.raw, g + f.gzip));
    text.push_str(&line("total", raw, gzip));
    text
}

fn kib(bytes: u64) -> String {
    format!("{:.1} KiB", bytes as f64 / 1024.0)
}

/// Every file under `dir`, in a stable order.
fn files_under(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    let mut entries: Vec<_> = fs::read_dir(dir)
        .with_context(|| format!("could not list {}", dir.display()))?
        .collect::<std::io::Result<_>>()?;
    entries.sort_by_key(|entry| entry.file_name());
    for entry in entries {
        if entry.file_type()?.is_dir() {
            found.extend(files_under(&entry.path())?);
        } else {
            found.push(entry.path());
        }
    }
    Ok(found)
}

/// The size of `bytes` gzip-compressed at level 9. The deflate stream comes from a zip entry
/// (the `zip` crate's deflate is zlib's, through flate2), framed as gzip frames it.
fn gzip_size(bytes: &[u8]) -> Result<u64> {
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .compression_level(Some(9))
        .large_file(bytes.len() as u64 >= u64::from(u32::MAX));
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
    writer.start_file("measured", options)?;
    writer.write_all(bytes)?;
    let mut archive = zip::ZipArchive::new(writer.finish()?)?;
    let deflated = archive.by_index_raw(0)?.compressed_size();
    Ok(deflated + GZIP_FRAME_BYTES)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gzip_size_is_that_of_a_deflate_stream_in_a_gzip_frame() {
        // Nothing to compress: one empty final block, two bytes.
        assert_eq!(gzip_size(b"").unwrap(), 2 + GZIP_FRAME_BYTES);
        let repetitive = "fn main() {}\n".repeat(10_000);
        let size = gzip_size(repetitive.as_bytes()).unwrap();
        assert!(size < repetitive.len() as u64 / 50, "{size}");
    }

    #[test]
    fn the_table_totals_the_files() {
        let files = [
            Shipped {
                path: "oa-ui_bg.wasm".into(),
                raw: 2048,
                gzip: 1024,
            },
            Shipped {
                path: "oa-ui.js".into(),
                raw: 1024,
                gzip: 512,
            },
        ];
        let table = table(&files);
        let last = table.lines().last().unwrap();
        assert!(last.contains("total"), "{table}");
        assert!(last.contains("3.0 KiB"), "{table}");
        assert!(last.contains("1.5 KiB"), "{table}");
    }
}
