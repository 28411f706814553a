//! Every file a command writes goes through here: checked before any network traffic
//! (not an input of the run, not another output, not a directory, its folder writable),
//! then written once at the end without ever following a planted link or replacing a
//! device.
//!
//! A regular target (or a missing one) gets a fresh temporary file created up front in its
//! folder, exclusively (`O_EXCL`) under an unpredictable name, which is renamed over the
//! target at the end: a link or file planted at the temporary name makes creation fail
//! instead of being followed, and readers never see half a file. A target that exists and
//! is not a regular file (`/dev/null`, a FIFO, `/dev/stdout`, or a link to one of those)
//! is written in place and stays what it was.

use std::fs::{File, Metadata, OpenOptions, Permissions};
use std::io::Write;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use tempfile::NamedTempFile;

/// How long writing into a FIFO waits for a reader.
const FIFO_OPEN_TIMEOUT: Duration = Duration::from_secs(60);

/// A file the run reads: the image list, keys, a policy, trust material, a passphrase file,
/// credentials. `flag` names it in messages (`--file`, `-p`).
#[derive(Debug, Clone)]
pub(crate) struct Input<'a> {
    pub(crate) flag: &'a str,
    pub(crate) path: &'a Path,
}

/// Where a file is, for aliasing checks: the same device and inode, or (for a file that does
/// not exist yet) the same canonical path.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Identity {
    Inode {
        dev: u64,
        ino: u64,
        char_device: bool,
    },
    Missing(PathBuf),
}

impl Identity {
    fn of(path: &Path) -> Option<Identity> {
        match std::fs::metadata(path) {
            Ok(m) => Some(Identity::from_metadata(&m)),
            Err(_) => canonical_missing(path).map(Identity::Missing),
        }
    }

    fn from_metadata(m: &Metadata) -> Identity {
        Identity::Inode {
            dev: m.dev(),
            ino: m.ino(),
            char_device: m.file_type().is_char_device(),
        }
    }

    /// `/dev/null` may be read and written, by several flags, without harm.
    fn harmless_to_share(&self) -> bool {
        matches!(
            self,
            Identity::Inode {
                char_device: true,
                ..
            }
        )
    }
}

/// The canonical path a missing file would have: its folder canonicalized, plus its name.
fn canonical_missing(path: &Path) -> Option<PathBuf> {
    let name = path.file_name()?;
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    Some(std::fs::canonicalize(parent).ok()?.join(name))
}

/// One output file of a run.
#[derive(Debug)]
pub(crate) struct Output {
    /// As the user gave it, for messages.
    path: PathBuf,
    identity: Option<Identity>,
    sink: Sink,
}

#[derive(Debug)]
enum Sink {
    /// A regular file or none yet: `tmp`, created in `dest`'s folder, is renamed over `dest`.
    Replace {
        dest: PathBuf,
        tmp: Mutex<Option<NamedTempFile>>,
    },
    /// A character device, FIFO, socket or terminal (or a link to one): written in place.
    InPlace { dest: PathBuf, fifo: bool },
}

impl Output {
    /// Checks `path` as the output of `flag` and prepares it: fails (before any traffic)
    /// when it is a directory, is one of `inputs` or one of `earlier` outputs, or its folder
    /// cannot take a new file. `mode` is the new file's permission bits (before the umask).
    pub(crate) fn prepare(
        flag: &str,
        path: &Path,
        mode: u32,
        inputs: &[Input<'_>],
        earlier: &[&Output],
    ) -> Result<Output> {
        let shown = path.display();
        let identity = Identity::of(path);
        if let Some(id) = identity.as_ref().filter(|id| !id.harmless_to_share()) {
            for input in inputs {
                if Identity::of(input.path).as_ref() == Some(id) {
                    bail!(
                        "{flag} {shown} is the file given to {} ({}): writing it would destroy that input; choose another output file",
                        input.flag,
                        input.path.display()
                    );
                }
            }
            for other in earlier {
                if other.identity.as_ref() == Some(id) {
                    bail!(
                        "{flag} {shown} is also the output file {}: one would overwrite the other; choose two different files",
                        other.path.display()
                    );
                }
            }
        }
        let sink = match std::fs::metadata(path) {
            Ok(m) if m.is_dir() => bail!("{flag} {shown} is a directory, not a file"),
            Ok(m) if !m.is_file() => {
                let fifo = m.file_type().is_fifo();
                if !fifo {
                    // A device must take writes now, not after the run.
                    open_in_place(path, false).with_context(|| format!("{flag} {shown}"))?;
                }
                Sink::InPlace {
                    dest: path.to_owned(),
                    fifo,
                }
            }
            // A link to a regular file: the file it names is replaced; the link stays.
            Ok(_) => {
                let dest = std::fs::canonicalize(path)
                    .with_context(|| format!("{flag} {shown}: resolving the path"))?;
                Sink::replace(flag, path, dest, mode)?
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if std::fs::symlink_metadata(path).is_ok() {
                    bail!(
                        "{flag} {shown} is a link to a missing file; remove it or choose another output file"
                    );
                }
                Sink::replace(flag, path, path.to_owned(), mode)?
            }
            Err(e) => bail!("{flag} {shown}: {e}"),
        };
        Ok(Output {
            path: path.to_owned(),
            identity,
            sink,
        })
    }

    /// The path as given.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Writes `bytes` as the file's whole content. Called once; later calls are errors.
    pub(crate) fn write(&self, bytes: &[u8]) -> Result<()> {
        match &self.sink {
            Sink::Replace { dest, tmp } => {
                let mut guard = tmp
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                let Some(mut file) = guard.take() else {
                    bail!("{} was already written", self.path.display());
                };
                file.write_all(bytes)
                    .and_then(|()| file.flush())
                    .with_context(|| format!("writing {}", file.path().display()))?;
                file.persist(dest)
                    .map_err(|e| e.error)
                    .with_context(|| format!("replacing {}", dest.display()))?;
                Ok(())
            }
            Sink::InPlace { dest, fifo } => {
                let mut f = open_in_place(dest, *fifo)?;
                f.write_all(bytes)
                    .and_then(|()| f.flush())
                    .with_context(|| format!("writing {}", dest.display()))
            }
        }
    }
}

impl Sink {
    fn replace(flag: &str, shown: &Path, dest: PathBuf, mode: u32) -> Result<Sink> {
        let folder = match dest.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
            _ => PathBuf::from("."),
        };
        let name = dest
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "out".into());
        if !folder.is_dir() {
            bail!(
                "{flag} {}: folder {} does not exist",
                shown.display(),
                folder.display()
            );
        }
        let tmp = tempfile::Builder::new()
            .prefix(&format!(".{name}."))
            .suffix(".tmp")
            .permissions(Permissions::from_mode(mode))
            .tempfile_in(&folder)
            .with_context(|| {
                format!(
                    "{flag} {}: cannot create a file in folder {}",
                    shown.display(),
                    folder.display()
                )
            })?;
        Ok(Sink::Replace {
            dest,
            tmp: Mutex::new(Some(tmp)),
        })
    }
}

/// Opens an existing non-regular file for writing, without creating or replacing it. A FIFO
/// blocks until a reader comes; that wait is bounded.
fn open_in_place(dest: &Path, fifo: bool) -> Result<File> {
    let open = |p: &Path| {
        OpenOptions::new()
            .write(true)
            .open(p)
            .with_context(|| format!("opening {}", p.display()))
    };
    if !fifo {
        return open(dest);
    }
    let (tx, rx) = std::sync::mpsc::channel();
    let owned = dest.to_owned();
    std::thread::spawn(move || {
        let _ = tx.send(open(&owned));
    });
    rx.recv_timeout(FIFO_OPEN_TIMEOUT).unwrap_or_else(|_| {
        bail!(
            "{} is a FIFO and no reader opened it within {} s",
            dest.display(),
            FIFO_OPEN_TIMEOUT.as_secs()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmpdir(tag: &str) -> tempfile::TempDir {
        tempfile::Builder::new()
            .prefix(&format!("hangar-output-{tag}"))
            .tempdir()
            .expect("tempdir")
    }

    #[test]
    fn temporary_file_is_new_and_unpredictable() {
        let dir = tmpdir("tmp");
        let target = dir.path().join("failed.txt");
        let a = Output::prepare("-o", &target, 0o644, &[], &[]).expect("prepare");
        let b = Output::prepare("--report", &dir.path().join("r.json"), 0o644, &[], &[])
            .expect("prepare");
        let names: Vec<String> = std::fs::read_dir(dir.path())
            .expect("read_dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names.len(), 2, "{names:?}");
        for n in &names {
            assert!(n.ends_with(".tmp"), "{n}");
            assert!(
                !n.contains(&std::process::id().to_string()),
                "{n}: predictable"
            );
        }
        a.write(b"x\n").expect("write");
        b.write(b"{}").expect("write");
        assert_eq!(std::fs::read_to_string(&target).expect("read"), "x\n");
        // Only the two outputs remain: no temporary file is left behind.
        assert_eq!(std::fs::read_dir(dir.path()).expect("read_dir").count(), 2);
        assert!(a.write(b"again").is_err());
    }

    #[test]
    fn creation_never_follows_what_is_planted_at_the_temporary_name() {
        // tempfile creates with O_CREAT|O_EXCL: an existing name (file or link) fails
        // creation and another random name is tried; the victim is never opened.
        let dir = tmpdir("plant");
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "precious").expect("write");
        let planted = dir.path().join("planted");
        std::os::unix::fs::symlink(&victim, &planted).expect("symlink");
        let err = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&planted)
            .expect_err("create_new on a link");
        assert_eq!(err.kind(), std::io::ErrorKind::AlreadyExists);
        let out = Output::prepare("-o", &dir.path().join("out"), 0o644, &[], &[]).expect("prep");
        out.write(b"new").expect("write");
        assert_eq!(std::fs::read_to_string(&victim).expect("read"), "precious");
    }

    #[test]
    fn aliasing_inputs_and_outputs_is_refused() {
        let dir = tmpdir("alias");
        let list = dir.path().join("list.txt");
        std::fs::write(&list, "nginx\n").expect("write");
        let hard = dir.path().join("hard.txt");
        std::fs::hard_link(&list, &hard).expect("link");
        let soft = dir.path().join("soft.txt");
        std::os::unix::fs::symlink(&list, &soft).expect("symlink");
        let inputs = [Input {
            flag: "--file",
            path: &list,
        }];
        for alias in [
            list.clone(),
            hard,
            soft,
            dir.path().join(".").join("list.txt"),
        ] {
            let err = Output::prepare("-o", &alias, 0o644, &inputs, &[]).expect_err("alias");
            assert!(
                err.to_string().contains("is the file given to --file"),
                "{err}"
            );
        }
        assert_eq!(std::fs::read_to_string(&list).expect("read"), "nginx\n");
        let out = dir.path().join("out.txt");
        let first = Output::prepare("-o", &out, 0o644, &inputs, &[]).expect("prepare");
        let err = Output::prepare(
            "--report",
            &dir.path().join("sub/../out.txt"),
            0o644,
            &inputs,
            &[&first],
        );
        // `sub` does not exist, so that spelling cannot be resolved: refused either way.
        assert!(err.is_err());
        let err = Output::prepare("--report", &out, 0o644, &inputs, &[&first]).expect_err("dup");
        assert!(err.to_string().contains("is also the output file"), "{err}");
        // /dev/null may be shared.
        let null = Path::new("/dev/null");
        let a = Output::prepare("-o", null, 0o644, &[], &[]).expect("null");
        Output::prepare("--report", null, 0o644, &[], &[&a]).expect("null twice");
    }

    #[test]
    fn directories_and_missing_folders_are_refused_up_front() {
        let dir = tmpdir("dirs");
        let err = Output::prepare("--report", dir.path(), 0o644, &[], &[]).expect_err("dir");
        assert!(err.to_string().contains("is a directory"), "{err}");
        let err = Output::prepare("-o", &dir.path().join("no/such/f"), 0o644, &[], &[])
            .expect_err("missing folder");
        assert!(err.to_string().contains("does not exist"), "{err}");
        let dangling = dir.path().join("dangling");
        std::os::unix::fs::symlink(dir.path().join("nothing"), &dangling).expect("symlink");
        let err = Output::prepare("-o", &dangling, 0o644, &[], &[]).expect_err("dangling");
        assert!(err.to_string().contains("link to a missing file"), "{err}");
    }

    #[test]
    fn a_link_to_a_regular_file_stays_a_link() {
        let dir = tmpdir("link");
        let real = dir.path().join("real.txt");
        std::fs::write(&real, "old").expect("write");
        let link = dir.path().join("link.txt");
        std::os::unix::fs::symlink(&real, &link).expect("symlink");
        let out = Output::prepare("-o", &link, 0o644, &[], &[]).expect("prepare");
        out.write(b"new").expect("write");
        assert!(
            std::fs::symlink_metadata(&link)
                .expect("meta")
                .file_type()
                .is_symlink()
        );
        assert_eq!(std::fs::read_to_string(&real).expect("read"), "new");
    }

    #[test]
    fn devices_and_fifos_are_written_in_place() {
        let dir = tmpdir("fifo");
        let fifo = dir.path().join("fifo");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .expect("run mkfifo (coreutils)");
        assert!(made.success());
        let out = Output::prepare("-o", &fifo, 0o644, &[], &[]).expect("prepare");
        let reader = {
            let fifo = fifo.clone();
            std::thread::spawn(move || std::fs::read_to_string(fifo).expect("read fifo"))
        };
        out.write(b"through the fifo\n").expect("write");
        assert_eq!(reader.join().expect("reader"), "through the fifo\n");
        assert!(
            std::fs::symlink_metadata(&fifo)
                .expect("meta")
                .file_type()
                .is_fifo()
        );
        let null = Output::prepare("-o", Path::new("/dev/null"), 0o644, &[], &[]).expect("null");
        null.write(b"gone").expect("write /dev/null");
        let m = std::fs::symlink_metadata("/dev/null").expect("meta");
        assert!(m.file_type().is_char_device());
        // Nothing was created beside /dev/null.
        assert!(
            std::fs::read_dir("/dev")
                .expect("read /dev")
                .filter_map(|e| e.ok())
                .all(|e| !e.file_name().to_string_lossy().starts_with(".null."))
        );
    }
}
