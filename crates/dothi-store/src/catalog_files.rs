//! Files of uploaded catalogue resources, under `{data directory}/resources/`.
//!
//! An upload is streamed into a temporary file (never held in memory), fsynced, and renamed to
//! a name of its own before the database transaction that points the resource at it commits;
//! so an acknowledged upload is durable, and a failed transaction leaves at most an orphan file
//! (removed by the caller), never a resource pointing at a missing or half-written file. A new
//! upload of a resource gets a new file; the previous one is removed after the commit.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

/// Where resource files live.
#[derive(Clone, Debug)]
pub struct ResourceFiles {
    root: PathBuf,
}

#[derive(Debug)]
pub enum UploadError {
    /// The upload exceeded the limit (bytes).
    TooLarge(u64),
    Io(std::io::Error),
}

impl From<std::io::Error> for UploadError {
    fn from(e: std::io::Error) -> Self {
        UploadError::Io(e)
    }
}

impl std::fmt::Display for UploadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UploadError::TooLarge(limit) => write!(f, "the file is larger than {limit} bytes"),
            UploadError::Io(e) => write!(f, "storing the file failed: {e}"),
        }
    }
}

/// A file written and synced to disk, not yet referenced by the database.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredUpload {
    /// Path relative to the resources folder.
    pub key: String,
    pub size: i64,
    /// Hex SHA-256 of the content.
    pub sha256: String,
}

impl ResourceFiles {
    /// `data_dir` is the platform's data directory; files go to its `resources/` folder.
    pub fn new(data_dir: impl AsRef<Path>) -> Self {
        ResourceFiles {
            root: data_dir.as_ref().join("resources"),
        }
    }

    /// The file of a key, if the key is one this store made (no `..`, no absolute paths).
    pub fn path(&self, key: &str) -> Option<PathBuf> {
        let safe = !key.is_empty()
            && key
                .split('/')
                .all(|p| !p.is_empty() && p != "." && p != ".." && !p.contains('\\'));
        safe.then(|| self.root.join(key))
    }

    /// Start receiving an upload of at most `limit` bytes.
    pub async fn begin(&self, limit: u64) -> Result<Incoming, UploadError> {
        let tmp_dir = self.root.join("tmp");
        tokio::fs::create_dir_all(&tmp_dir).await?;
        let tmp = tmp_dir.join(format!("upload-{}", random_suffix()));
        let file = tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .await?;
        Ok(Incoming {
            root: self.root.clone(),
            tmp: Some(tmp),
            file: Some(tokio::io::BufWriter::with_capacity(256 * 1024, file)),
            size: 0,
            limit,
            hasher: Sha256::new(),
        })
    }

    /// Remove a file no longer referenced (best effort: a leftover file harms nothing).
    pub async fn remove(&self, key: &str) {
        if let Some(path) = self.path(key) {
            if let Err(e) = tokio::fs::remove_file(&path).await {
                if e.kind() != std::io::ErrorKind::NotFound {
                    tracing::warn!(error = %e, path = %path.display(), "could not remove a resource file");
                }
            }
        }
    }
}

fn random_suffix() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 8];
    rand::thread_rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// An upload being received. Dropped before [`Incoming::finish`], its temporary file is
/// removed.
pub struct Incoming {
    root: PathBuf,
    tmp: Option<PathBuf>,
    file: Option<tokio::io::BufWriter<tokio::fs::File>>,
    size: u64,
    limit: u64,
    hasher: Sha256,
}

impl Incoming {
    pub async fn write(&mut self, chunk: &[u8]) -> Result<(), UploadError> {
        self.size += chunk.len() as u64;
        if self.size > self.limit {
            return Err(UploadError::TooLarge(self.limit));
        }
        self.hasher.update(chunk);
        let file = self.file.as_mut().ok_or_else(finished)?;
        file.write_all(chunk).await?;
        Ok(())
    }

    /// Sync the file and move it to its final name, `ab/cd/{resource_id}-{random}` (CKAN's
    /// two-level layout); the folder is synced too, so the rename survives a crash.
    pub async fn finish(mut self, resource_id: &str) -> Result<StoredUpload, UploadError> {
        let mut file = self.file.take().ok_or_else(finished)?;
        file.flush().await?;
        let file = file.into_inner();
        file.sync_all().await?;
        drop(file);
        let id: String = resource_id
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .collect();
        let padded = format!("{id:_<6}");
        let folders = format!("{}/{}", &padded[0..3], &padded[3..6]);
        let file_name = format!("{id}-{}", random_suffix());
        let key = format!("{folders}/{file_name}");
        let dir = self.root.join(&folders);
        let target = dir.join(&file_name);
        tokio::fs::create_dir_all(&dir).await?;
        let tmp = self.tmp.take().ok_or_else(finished)?;
        tokio::fs::rename(&tmp, &target).await?;
        let sync_dir = dir.clone();
        tokio::task::spawn_blocking(move || std::fs::File::open(&sync_dir)?.sync_all())
            .await
            .map_err(std::io::Error::other)??;
        Ok(StoredUpload {
            key,
            size: self.size as i64,
            sha256: hex::encode(std::mem::take(&mut self.hasher).finalize()),
        })
    }
}

/// The file of an upload that was already finished (not reachable through the public API,
/// which consumes the upload in `finish`; an error rather than a panic all the same).
fn finished() -> std::io::Error {
    std::io::Error::other("the upload was already finished")
}

impl Drop for Incoming {
    fn drop(&mut self) {
        if let Some(tmp) = self.tmp.take() {
            let _ = std::fs::remove_file(tmp);
        }
    }
}
