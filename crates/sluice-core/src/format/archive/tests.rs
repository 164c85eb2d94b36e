//! Zip archives made by the system's `zip`, read as sluice reads them.

use std::path::Path;
use std::process::Command;

use crate::format::testing::{ids, store};
use crate::format::{self, FormatOptions};
use arrow::array::AsArray;
use arrow::datatypes::Int64Type;
use futures::TryStreamExt;

/// `zip` of `files` (name, content) into `dir/archive`, as the `zip` tool writes it.
fn zip(dir: &Path, archive: &str, files: &[(&str, &[u8])]) {
    let src = dir.join("src");
    for (name, content) in files {
        let path = src.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }
    let names: Vec<&str> = files.iter().map(|(n, _)| *n).collect();
    let status = Command::new("zip")
        .arg("-q")
        .arg("-r")
        .arg(dir.join(archive))
        .args(&names)
        .current_dir(&src)
        .status()
        .expect("zip (scripts/test installs it)");
    assert!(status.success());
    std::fs::remove_dir_all(&src).unwrap();
}

#[tokio::test]
async fn every_entry_of_the_format_loads_in_order_and_others_are_left() {
    let dir = tempfile::tempdir().unwrap();
    zip(
        dir.path(),
        "export.csv.zip",
        &[
            ("part_1.csv", b"id,name\n1,a\n2,b\n"),
            ("nested/part_2.csv", b"id,name\n3,c\n"),
            ("README.md", b"# not data\n"),
        ],
    );
    let store = store(dir.path());
    let file = store.head("export.csv.zip").await.unwrap();
    assert_eq!(ids(&store, &file).await.unwrap(), vec![1, 2, 3]);
}

#[tokio::test]
async fn an_archive_without_such_entries_a_corrupt_one_and_a_bomb_fail_by_name() {
    let dir = tempfile::tempdir().unwrap();
    zip(dir.path(), "docs.csv.zip", &[("README.md", b"# no data\n")]);
    let store = store(dir.path());
    let file = store.head("docs.csv.zip").await.unwrap();
    let err = ids(&store, &file).await.unwrap_err().to_string();
    assert!(
        err.contains("docs.csv.zip") && err.contains("none of them CSV"),
        "{err}"
    );

    let mut body = b"id,name\n".to_vec();
    body.extend(b"1,a\n".repeat(25 * 1024 * 1024));
    zip(dir.path(), "bomb.csv.zip", &[("bomb.csv", &body)]);
    let file = store.head("bomb.csv.zip").await.unwrap();
    assert!(file.size < 1024 * 1024, "{}", file.size);
    let err = ids(&store, &file).await.unwrap_err().to_string();
    assert!(
        err.starts_with("bomb.csv.zip!bomb.csv") && err.contains("decompression bomb"),
        "{err}"
    );

    let good = std::fs::read(dir.path().join("docs.csv.zip")).unwrap();
    std::fs::write(dir.path().join("cut.csv.zip"), &good[..good.len() / 2]).unwrap();
    let file = store.head("cut.csv.zip").await.unwrap();
    let err = ids(&store, &file).await.unwrap_err().to_string();
    assert!(
        err.starts_with("cut.csv.zip") && err.contains("not a readable zip archive"),
        "{err}"
    );
}

#[tokio::test]
async fn a_glob_of_the_job_chooses_the_entries() {
    let dir = tempfile::tempdir().unwrap();
    zip(
        dir.path(),
        "export.zip",
        &[
            ("data/part_1.csv", b"id,name\n1,a\n"),
            ("data/notes.txt", b"id,name\n9,z\n"),
            ("other/part_2.csv", b"id,name\n2,b\n"),
        ],
    );
    let store = store(dir.path());
    let file = store.head("export.zip").await.unwrap();
    let options = FormatOptions::default_for(format::by_name("csv").unwrap()).unwrap();
    let reading = format::Reading {
        archive_entries: Some("data/*.csv".into()),
        ..Default::default()
    };
    let detected = format::detect_with(&store, &file, &options, &reading)
        .await
        .unwrap();
    let resolved = detected.format_options.clone().unwrap();
    let batches: Vec<_> = format::read_with(
        &store,
        &file,
        &resolved,
        &detected.reviewed_columns(),
        &reading,
    )
    .await
    .unwrap()
    .try_collect()
    .await
    .unwrap();
    let ids: Vec<i64> = batches
        .iter()
        .flat_map(|b| b.column(0).as_primitive::<Int64Type>().values().to_vec())
        .collect();
    assert_eq!(ids, vec![1]);
    // Without the glob, every CSV entry (by extension: .csv and .txt are CSV's).
    let all = crate::format::archive::entries(&store, &file, options.info(), None)
        .await
        .unwrap();
    assert_eq!(all.len(), 3);
    let err = crate::format::archive::entries(&store, &file, options.info(), Some("*.json"))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("none matching '*.json'"), "{err}");
}
