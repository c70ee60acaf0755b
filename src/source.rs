//! Source lines of the files a dump names, when they are on this machine: the
//! path as printed, or under `--source-root` (for `-trimpath` builds and paths of
//! another machine). Never required: a file not found, unreadable or too large is
//! skipped without a word. Only the few lines a report quotes are looked up.

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;

/// Larger files are not read: a source file this big is no source to quote.
const MAX_BYTES: u64 = 4 << 20;

#[derive(Debug, Default)]
pub struct Sources {
    root: Option<PathBuf>,
    /// Each file asked for, read once (`None`: not found or not readable).
    files: RefCell<HashMap<String, Option<Rc<Vec<String>>>>>,
}

impl Sources {
    pub fn new(root: Option<PathBuf>) -> Sources {
        Sources {
            root,
            files: RefCell::default(),
        }
    }

    /// Line `line` (from 1) of `file` as the dump printed its path, trimmed.
    pub fn line(&self, file: &str, line: u32) -> Option<String> {
        let lines = self.lines(file)?;
        let text = lines.get(usize::try_from(line).ok()?.checked_sub(1)?)?;
        let text = text.trim();
        (!text.is_empty()).then(|| text.to_string())
    }

    fn lines(&self, file: &str) -> Option<Rc<Vec<String>>> {
        if let Some(known) = self.files.borrow().get(file) {
            return known.clone();
        }
        let read = self.find(file).and_then(|p| read(&p)).map(Rc::new);
        self.files
            .borrow_mut()
            .insert(file.to_string(), read.clone());
        read
    }

    /// The file on this machine: under the root, the longest tail of the printed
    /// path that names a file there; else the path itself.
    fn find(&self, file: &str) -> Option<PathBuf> {
        if file.is_empty() || file.starts_with('<') || file == "??" {
            return None;
        }
        let parts: Vec<&str> = file
            .split(['/', '\\'])
            .filter(|p| !p.is_empty() && !p.ends_with(':'))
            .collect();
        if let Some(root) = &self.root {
            for k in 0..parts.len() {
                let p = parts[k..].iter().fold(root.clone(), |p, c| p.join(c));
                if p.is_file() {
                    return Some(p);
                }
            }
        }
        let p = Path::new(file);
        p.is_file().then(|| p.to_path_buf())
    }
}

fn read(p: &Path) -> Option<Vec<String>> {
    if std::fs::metadata(p).ok()?.len() > MAX_BYTES {
        return None;
    }
    let bytes = std::fs::read(p).ok()?;
    Some(
        String::from_utf8_lossy(&bytes)
            .lines()
            .map(str::to_string)
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_foreign_path_is_found_under_the_root_and_a_missing_one_skipped() {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let s = Sources::new(Some(root));
        let line = s.line("/elsewhere/checkout/src/source.rs", 1).unwrap();
        assert!(line.starts_with("//! Source lines"), "{line}");
        assert_eq!(s.line("/elsewhere/no/such/file.go", 3), None);
        assert_eq!(s.line("/elsewhere/checkout/src/source.rs", 999_999), None);
        assert_eq!(Sources::new(None).line("no/such/file.go", 1), None);
    }
}
