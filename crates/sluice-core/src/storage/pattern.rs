use globset::{GlobBuilder, GlobMatcher};

use crate::{Error, Result};

/// A folder prefix and a glob: which files belong to a job.
///
/// A glob without `/` matches the file name anywhere under the prefix (`transactions_*.csv`);
/// a glob with `/` matches the path below the prefix (`2024-*/part_*.parquet`), and its
/// literal leading folders narrow the listing.
#[derive(Debug, Clone)]
pub struct FilePattern {
    prefix: String,
    glob: String,
    matcher: GlobMatcher,
}

const META: [char; 5] = ['*', '?', '[', '{', '\\'];

impl FilePattern {
    /// # Errors
    /// [`Error::InvalidPattern`] when the glob does not parse.
    pub fn new(prefix: &str, glob: &str) -> Result<Self> {
        let glob = glob.trim().trim_start_matches('/');
        let invalid = |reason: String| Error::InvalidPattern {
            pattern: glob.to_string(),
            reason,
        };
        if glob.is_empty() {
            return Err(invalid(
                "the pattern is empty; use '*' for every file".into(),
            ));
        }
        let matcher = GlobBuilder::new(glob)
            .literal_separator(true)
            .build()
            .map_err(|e| invalid(e.kind().to_string()))?
            .compile_matcher();
        Ok(Self {
            prefix: prefix.trim_matches('/').to_string(),
            glob: glob.to_string(),
            matcher,
        })
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    pub fn glob(&self) -> &str {
        &self.glob
    }

    /// The folders to list: the prefix plus the glob's literal leading folders.
    pub fn list_prefix(&self) -> String {
        let literal_end = self.glob.find(META).unwrap_or(self.glob.len());
        let literal_dirs = match self.glob[..literal_end].rfind('/') {
            Some(slash) => &self.glob[..slash],
            None => "",
        };
        [self.prefix.as_str(), literal_dirs]
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join("/")
    }

    /// Whether a path relative to the connection root belongs to this pattern.
    pub fn matches(&self, path: &str) -> bool {
        let below = if self.prefix.is_empty() {
            path
        } else {
            match path
                .strip_prefix(&self.prefix)
                .and_then(|rest| rest.strip_prefix('/'))
            {
                Some(rest) => rest,
                None => return false,
            }
        };
        if self.glob.contains('/') {
            self.matcher.is_match(below)
        } else {
            self.matcher
                .is_match(below.rsplit('/').next().unwrap_or(below))
        }
    }

    /// The table name a pattern suggests: `transactions_*.csv` → `transactions`.
    pub fn table_stem(&self) -> String {
        let name = self.glob.rsplit('/').next().unwrap_or(&self.glob);
        let literal = &name[..name.find(META).unwrap_or(name.len())];
        let literal = literal.split('.').next().unwrap_or("");
        let mut stem: String = literal
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '_'
                }
            })
            .collect();
        while stem.contains("__") {
            stem = stem.replace("__", "_");
        }
        stem.trim_matches('_').to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_name_globs_match_at_any_depth_under_the_prefix() {
        let p = FilePattern::new("landing/", "transactions_*.csv").unwrap();
        assert!(p.matches("landing/transactions_2024-11-19.csv"));
        assert!(p.matches("landing/2024/11/transactions_2024-11-19.csv"));
        assert!(!p.matches("landing/transactions_2024-11-19.csv.gz"));
        assert!(!p.matches("landing2/transactions_1.csv"));
        assert!(!p.matches("other/transactions_1.csv"));
        assert_eq!(p.list_prefix(), "landing");
    }

    #[test]
    fn path_globs_push_their_literal_folders_down() {
        let p = FilePattern::new("", "exports/2024-*/part_*.parquet").unwrap();
        assert_eq!(p.list_prefix(), "exports");
        assert!(p.matches("exports/2024-01/part_0.parquet"));
        assert!(!p.matches("exports/2024-01/x/part_0.parquet"));
        let p = FilePattern::new("data", "a/b/*.csv").unwrap();
        assert_eq!(p.list_prefix(), "data/a/b");
    }

    #[test]
    fn invalid_globs_are_clear_errors() {
        let err = FilePattern::new("", "data_[.csv").unwrap_err().to_string();
        assert!(
            err.starts_with("invalid file pattern 'data_[.csv'"),
            "{err}"
        );
        assert!(FilePattern::new("", " ").is_err());
    }

    #[test]
    fn table_stems_come_from_the_literal_part_of_the_name() {
        let stem = |g: &str| FilePattern::new("", g).unwrap().table_stem();
        assert_eq!(stem("transactions_*.csv"), "transactions");
        assert_eq!(stem("exports/Daily-Orders*.parquet"), "daily_orders");
        assert_eq!(stem("*.csv"), "");
        assert_eq!(stem("events.jsonl"), "events");
    }
}
