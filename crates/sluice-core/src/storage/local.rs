//! A folder on this machine (`file:///data/landing`).

use std::path::PathBuf;
use std::sync::Arc;

use object_store::ObjectStore;
use serde::{Deserialize, Serialize};
use url::Url;

use super::config::{Built, Options, invalid_url};
use crate::Result;
use crate::fields::{Field, FieldError};

/// A folder on this machine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocalConfig {
    pub path: PathBuf,
}

pub(super) const FIELDS: &[Field] = &[Field::text("path", "Folder")
    .hint("an absolute path on the server")
    .placeholder("/data/landing")
    .required()];

impl LocalConfig {
    pub(super) fn from_url(url: &str, parsed: &Url, _options: &Options<'_>) -> Result<Self> {
        let path = parsed
            .to_file_path()
            .map_err(|()| invalid_url(url, "expected file:///absolute/path"))?;
        Ok(Self { path })
    }

    pub(super) fn url(&self) -> String {
        format!("file://{}", self.path.display())
    }

    pub(super) fn validate(&self, errors: &mut Vec<FieldError>) {
        if !self.path.is_absolute() {
            errors.push(FieldError::new("path", "use an absolute path"));
        } else if !self.path.is_dir() {
            errors.push(FieldError::new(
                "path",
                format!(
                    "the folder {} does not exist; create it first",
                    self.path.display()
                ),
            ));
        }
    }

    pub(super) fn build(&self) -> std::result::Result<Built, String> {
        let fs = object_store::local::LocalFileSystem::new_with_prefix(&self.path)
            .map_err(|e| e.to_string())?;
        Ok((Arc::new(fs) as Arc<dyn ObjectStore>, String::new()))
    }

    pub(super) fn map_secrets<E>(
        &self,
        _f: impl FnMut(&'static str, &str) -> std::result::Result<String, E>,
    ) -> std::result::Result<Self, E> {
        Ok(self.clone())
    }
}
