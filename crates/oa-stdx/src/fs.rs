//! Files: writing one that only its owner may read, so that a crash or a full disk never leaves
//! half of it, and the sha256 that names a file's content.

use std::fs::File;
use std::io::{self, BufWriter, IntoInnerError, Read, Write};
use std::path::Path;

use sha2::{Digest, Sha256};

/// Writes `contents` to `path` whole, readable by its owner only: see [`write_private_with`].
pub fn write_private(path: &Path, contents: &[u8]) -> io::Result<()> {
    write_private_with(path, |out| out.write_all(contents))
}

/// Replaces the file at `path` with what `fill` writes, so that a reader sees the old file or
/// the new one and never a part: the bytes go to a temporary file in the same folder (created
/// with mode 0600 on Unix, so that a token is never readable by others, not even for a
/// moment), which is flushed to disk and then renamed over `path`; on Unix the folder is
/// flushed too, so that the rename survives a power cut. Missing folders are created.
///
/// When `fill` or any step fails, the temporary file is removed and the old file stays as it
/// was.
pub fn write_private_with(
    path: &Path,
    fill: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> io::Result<()> {
    let name = path.file_name().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} is not a file name", path.display()),
        )
    })?;
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir)?;
    let prefix = format!(".{}.", name.to_string_lossy());
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix).suffix(".tmp");
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600));
    let mut out = BufWriter::new(builder.tempfile_in(dir)?);
    fill(&mut out)?;
    let temporary = out.into_inner().map_err(IntoInnerError::into_error)?;
    temporary.as_file().sync_all()?;
    temporary.persist(path).map_err(|e| e.error)?;
    #[cfg(unix)]
    File::open(dir)?.sync_all()?;
    Ok(())
}

/// sha256 of the file's content as lowercase hex, read in blocks of 1 MiB (model files are
/// gigabytes).
pub fn sha256_file(path: &Path) -> io::Result<String> {
    let mut file = File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0; 1 << 20];
    loop {
        match file.read(&mut buffer) {
            Ok(0) => break,
            Ok(read) => hasher.update(&buffer[..read]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(format!("{:x}", hasher.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The names in `dir`, sorted.
    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn a_private_file_is_written_whole_and_replaced_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested").join("account.json");
        write_private(&path, b"first").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"first");
        write_private(&path, b"second, longer").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"second, longer");
        assert_eq!(
            names(path.parent().unwrap()),
            ["account.json"],
            "no leftovers"
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_private_file_is_for_its_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("account.json");
        // Even one that was readable by all before.
        std::fs::write(&path, b"old").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        write_private(&path, b"token").unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn a_failed_write_leaves_the_old_file_as_it_was() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("standing.json");
        write_private(&path, b"old contents").unwrap();
        let failed = write_private_with(&path, |out| {
            out.write_all(b"half of the new")?;
            Err(io::Error::other("the disk is full"))
        });
        assert_eq!(failed.unwrap_err().to_string(), "the disk is full");
        assert_eq!(std::fs::read(&path).unwrap(), b"old contents");
        assert_eq!(
            names(dir.path()),
            ["standing.json"],
            "the temporary file is gone"
        );
    }

    #[test]
    fn a_path_without_a_file_name_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let error = write_private(&dir.path().join(".."), b"x").unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidInput);
    }

    #[test]
    fn sha256_of_a_known_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("abc");
        std::fs::write(&path, "abc").unwrap();
        assert_eq!(
            sha256_file(&path).unwrap(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        // Larger than one block: the blocks are joined, not hashed apart.
        let big = vec![7u8; (1 << 20) + 3];
        std::fs::write(&path, &big).unwrap();
        assert_eq!(
            sha256_file(&path).unwrap(),
            format!("{:x}", Sha256::digest(&big))
        );
        let missing = sha256_file(&dir.path().join("missing")).unwrap_err();
        assert_eq!(missing.kind(), io::ErrorKind::NotFound);
    }
}
