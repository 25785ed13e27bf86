//! Replacing cleaned segments atomically, and finishing or undoing a replacement after a crash.
//!
//! The cleaner writes a group's new segment as `<base>.log.cleaned` plus `<base>.index.cleaned`,
//! `<base>.timeindex.cleaned` and `<base>.txnindex.cleaned` (always all three, empty or not), all
//! fdatasynced. One rename then
//! commits the replacement: `<base>.log.cleaned` becomes `<base>.<end>.swap`, naming the offset
//! range `[base, end)` whose old segments it replaces. After the commit the old segments of that
//! range are deleted, the index files are renamed over the old ones and the swap file becomes
//! `<base>.log`. A crash before the commit leaves `.cleaned` files, which opening the log deletes
//! (the old segments are untouched); a crash after it leaves a `.swap` file, and opening the log
//! finishes the same steps, which are all idempotent. Either way the directory holds the old
//! segments or the new one, never a mix.

use std::fs;
use std::path::Path;

use crate::checkpoint::{fsync_dir, remove_if_exists};
use crate::error::{IoContext, StorageError};
use crate::segment::{
    file_name, parse_file_name, INDEX_EXT, LOG_EXT, SEGMENT_EXTS, TIME_INDEX_EXT, TXN_INDEX_EXT,
};

/// Suffix of a cleaned segment's files before the commit.
pub const CLEANED_SUFFIX: &str = ".cleaned";
/// Extension of a committed replacement: `<base>.<end>.swap`.
pub const SWAP_EXT: &str = "swap";

/// `<base>.<ext>.cleaned`.
pub fn cleaned_name(base_offset: i64, ext: &str) -> String {
    format!("{}{CLEANED_SUFFIX}", file_name(base_offset, ext))
}

/// `<base>.<end>.swap`.
pub fn swap_name(base_offset: i64, end_offset: i64) -> String {
    format!("{base_offset:020}.{end_offset:020}.{SWAP_EXT}")
}

/// Parses `<base>.<end>.swap`.
pub fn parse_swap_name(name: &str) -> Option<(i64, i64)> {
    let (base, rest) = parse_file_name(name)?;
    let (end, ext) = rest.split_once('.')?;
    if ext != SWAP_EXT || end.len() != 20 || !end.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let end: i64 = end.parse().ok()?;
    (end > base).then_some((base, end))
}

/// The commit point: renames the cleaned `.log` to the swap name and makes it durable.
pub fn commit(dir: &Path, base_offset: i64, end_offset: i64) -> Result<(), StorageError> {
    let from = dir.join(cleaned_name(base_offset, LOG_EXT));
    let to = dir.join(swap_name(base_offset, end_offset));
    fs::rename(&from, &to).ctx(|| format!("rename {} to {}", from.display(), to.display()))?;
    fsync_dir(dir)
}

/// After the commit: deletes the old segments of `[base, end)`, moves the new index files and
/// the swap file into place. Idempotent, so recovery can run it again after a crash.
pub fn finish(dir: &Path, base_offset: i64, end_offset: i64) -> Result<(), StorageError> {
    let mut old = Vec::new();
    for entry in fs::read_dir(dir).ctx(|| format!("list {}", dir.display()))? {
        let entry = entry.ctx(|| format!("list {}", dir.display()))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if let Some((base, ext)) = parse_file_name(name) {
            if base > base_offset && base < end_offset && SEGMENT_EXTS.contains(&ext) {
                old.push(entry.path());
            }
        }
    }
    for path in &old {
        remove_if_exists(path)?;
    }
    // The unlinks must be durable before the swap file (the only trace of this replacement)
    // goes: otherwise a crash could leave an old segment beside the new one.
    if !old.is_empty() {
        fsync_dir(dir)?;
    }
    for ext in [INDEX_EXT, TIME_INDEX_EXT, TXN_INDEX_EXT] {
        let from = dir.join(cleaned_name(base_offset, ext));
        let to = dir.join(file_name(base_offset, ext));
        match fs::rename(&from, &to) {
            // NotFound: moved before a crash (every index file is written, if empty).
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(StorageError::io(
                    format!("rename {} to {}", from.display(), to.display()),
                    e,
                ))
            }
        }
    }
    let swap = dir.join(swap_name(base_offset, end_offset));
    let log = dir.join(file_name(base_offset, LOG_EXT));
    match fs::rename(&swap, &log) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            return Err(StorageError::io(
                format!("rename {} to {}", swap.display(), log.display()),
                e,
            ))
        }
    }
    fsync_dir(dir)
}

/// Run first when a log opens: finishes every committed replacement and deletes the files of
/// uncommitted ones. Returns how many replacements were finished.
pub fn recover(dir: &Path) -> Result<usize, StorageError> {
    let mut swaps = Vec::new();
    let mut cleaned = Vec::new();
    for entry in fs::read_dir(dir).ctx(|| format!("list {}", dir.display()))? {
        let entry = entry.ctx(|| format!("list {}", dir.display()))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if let Some(range) = parse_swap_name(name) {
            swaps.push(range);
        } else if name.ends_with(CLEANED_SUFFIX) {
            cleaned.push((name.to_string(), entry.path()));
        }
    }
    swaps.sort_unstable();
    for &(base, end) in &swaps {
        tracing::info!(dir = %dir.display(), base_offset = base, end_offset = end, "finishing an interrupted replacement of cleaned segments");
        finish(dir, base, end)?;
    }
    let mut removed = false;
    for (name, path) in cleaned {
        // A committed replacement's index files were moved by `finish` above.
        if path.exists() {
            tracing::info!(file = %name, dir = %dir.display(), "removing an unfinished cleaned segment file");
            remove_if_exists(&path)?;
            removed = true;
        }
    }
    if removed {
        fsync_dir(dir)?;
    }
    Ok(swaps.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_roundtrip() {
        assert_eq!(parse_swap_name(&swap_name(0, 200)), Some((0, 200)));
        assert_eq!(parse_swap_name(&swap_name(7, 7)), None);
        assert_eq!(parse_swap_name("00000000000000000000.log"), None);
        assert_eq!(
            parse_swap_name("00000000000000000000.00000000000000000100.log"),
            None
        );
        assert_eq!(cleaned_name(5, LOG_EXT), "00000000000000000005.log.cleaned");
    }

    fn touch(dir: &Path, name: &str, contents: &[u8]) {
        fs::write(dir.join(name), contents).unwrap();
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn uncommitted_cleaning_is_undone() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        touch(d, &file_name(0, LOG_EXT), b"old0");
        touch(d, &file_name(100, LOG_EXT), b"old100");
        touch(d, &cleaned_name(0, LOG_EXT), b"new");
        touch(d, &cleaned_name(0, INDEX_EXT), b"");
        assert_eq!(recover(d).unwrap(), 0);
        assert_eq!(
            names(d),
            vec![file_name(0, LOG_EXT), file_name(100, LOG_EXT)]
        );
        assert_eq!(fs::read(d.join(file_name(0, LOG_EXT))).unwrap(), b"old0");
    }

    #[test]
    fn committed_cleaning_is_finished_even_half_done() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        for base in [0, 100, 200] {
            touch(d, &file_name(base, LOG_EXT), b"old");
            touch(d, &file_name(base, INDEX_EXT), b"oldidx");
            touch(d, &file_name(base, TXN_INDEX_EXT), b"oldtxn");
        }
        touch(d, &cleaned_name(0, LOG_EXT), b"new");
        touch(d, &cleaned_name(0, INDEX_EXT), b"newidx");
        touch(d, &cleaned_name(0, TIME_INDEX_EXT), b"");
        touch(d, &cleaned_name(0, TXN_INDEX_EXT), b"");
        commit(d, 0, 200).unwrap();
        // A crash after the old segment 100 was deleted and the index moved.
        fs::remove_file(d.join(file_name(100, LOG_EXT))).unwrap();
        assert_eq!(recover(d).unwrap(), 1);
        assert_eq!(
            names(d),
            vec![
                file_name(0, INDEX_EXT),
                file_name(0, LOG_EXT),
                file_name(0, TIME_INDEX_EXT),
                file_name(0, TXN_INDEX_EXT),
                file_name(200, INDEX_EXT),
                file_name(200, LOG_EXT),
                file_name(200, TXN_INDEX_EXT),
            ]
        );
        assert_eq!(fs::read(d.join(file_name(0, LOG_EXT))).unwrap(), b"new");
        assert_eq!(
            fs::read(d.join(file_name(0, INDEX_EXT))).unwrap(),
            b"newidx"
        );
        // Running it again changes nothing.
        assert_eq!(recover(d).unwrap(), 0);
    }
}
