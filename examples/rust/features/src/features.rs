//! Which `.feature` files a runner reads: the unit features (every file but `e2e-*`) or the
//! end-to-end ones, from `examples/features`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::{io, vec};

use cucumber::gherkin::{Feature, ParseFileError};
use cucumber::parser::{self, Basic, Parser};
use futures::stream;

/// `examples/features`, where the shared features live.
pub fn features_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../features")
}

/// A cucumber [`Parser`] over the feature files of one kind in a directory, in name order. No
/// such file at all is a parse error, so that a runner cannot pass by running nothing.
#[derive(Debug, Clone, Copy)]
pub struct FeatureFiles {
    e2e: bool,
}

impl FeatureFiles {
    /// Every `*.feature` but `e2e-*.feature`.
    pub fn unit() -> Self {
        Self { e2e: false }
    }

    /// Only `e2e-*.feature`.
    pub fn e2e() -> Self {
        Self { e2e: true }
    }

    /// The matching files in `dir`, sorted.
    pub fn files(self, dir: &Path) -> io::Result<Vec<PathBuf>> {
        let mut files = Vec::new();
        for entry in std::fs::read_dir(dir)? {
            let path = entry?.path();
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
            let Some(name) = name.filter(|n| n.ends_with(".feature")) else {
                continue;
            };
            if name.starts_with("e2e-") == self.e2e {
                files.push(path);
            }
        }
        files.sort();
        Ok(files)
    }
}

impl<I: AsRef<Path>> Parser<I> for FeatureFiles {
    type Cli = cucumber::cli::Empty;
    type Output = stream::Iter<vec::IntoIter<parser::Result<Feature>>>;

    fn parse(self, input: I, _cli: Self::Cli) -> Self::Output {
        let dir = input.as_ref();
        let features = match self.files(dir) {
            Ok(files) if !files.is_empty() => files
                .into_iter()
                .flat_map(|file| Basic::new().parse(file, Default::default()).into_inner())
                .collect(),
            found => {
                let kind = if self.e2e {
                    "e2e-*.feature"
                } else {
                    "*.feature (other than e2e-*)"
                };
                let source = found
                    .err()
                    .unwrap_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no such file"));
                let error = ParseFileError::Reading {
                    path: dir.join(kind),
                    source,
                };
                vec![Err(parser::Error::Parsing(Arc::new(error)))]
            }
        };
        stream::iter(features)
    }
}
