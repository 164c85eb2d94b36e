use super::*;
use std::time::Duration;

fn local(dir: &std::path::Path) -> Store {
    let url = Url::from_directory_path(dir).unwrap();
    Store::open(url.as_str(), &BTreeMap::new()).unwrap()
}

#[tokio::test]
async fn lists_recursively_newest_first_matching_the_file_name() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("in/2024")).unwrap();
    for (i, name) in [
        "in/a_1.csv",
        "in/2024/a_2.csv",
        "in/b.csv",
        "in/2024/a_3.json",
    ]
    .iter()
    .enumerate()
    {
        std::fs::write(dir.path().join(name), "x\n1\n").unwrap();
        let f = std::fs::File::options()
            .write(true)
            .open(dir.path().join(name))
            .unwrap();
        f.set_modified(
            std::time::SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000 + i as u64 * 60),
        )
        .unwrap();
    }
    let store = local(dir.path());
    let listing = store
        .list(&FilePattern::new("in", "a_*.csv").unwrap())
        .await
        .unwrap();
    let paths: Vec<_> = listing.files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(paths, vec!["in/2024/a_2.csv", "in/a_1.csv"]);
    assert_eq!(listing.scanned, 4);
    assert_eq!(listing.files[0].size, 4);
}

#[tokio::test]
async fn a_missing_folder_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let url = Url::from_directory_path(dir.path().join("nope")).unwrap();
    let err = Store::open(url.as_str(), &BTreeMap::new())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("nope") && err.contains("does not exist"),
        "{err}"
    );
    let store = local(dir.path());
    std::fs::remove_dir(dir.path()).unwrap();
    let err = store.check().await.unwrap_err().to_string();
    assert!(err.contains(&dir.path().display().to_string()), "{err}");
}

#[test]
fn rejects_relative_and_unknown_urls() {
    let err = Store::open("ftp://host/x", &BTreeMap::new())
        .unwrap_err()
        .to_string();
    assert!(err.contains("unsupported scheme 'ftp'"), "{err}");
    let err = Store::open("data/drop", &BTreeMap::new())
        .unwrap_err()
        .to_string();
    assert!(err.contains("expected file:///absolute/path"), "{err}");
}

#[test]
fn version_key_prefers_versions_then_etags() {
    let mut f = FileEntry {
        path: "a.csv".into(),
        size: 3,
        last_modified: DateTime::from_timestamp(1, 0).unwrap(),
        e_tag: None,
        version: None,
        checksum: None,
    };
    assert_eq!(f.version_key(), "3@1000000");
    f.e_tag = Some("\"abc\"".into());
    assert_eq!(f.version_key(), "etag:abc");
    f.version = Some("7".into());
    assert_eq!(f.version_key(), "v:7");
}

#[test]
fn s3_and_gcs_etags_that_are_md5s_are_checksums() {
    let md5 = "md5:bc9280dfc1d4e67233f138f5bbbf0951";
    assert_eq!(
        checksum_of("s3", Some("\"BC9280DFC1D4E67233F138F5BBBF0951\"")).as_deref(),
        Some(md5)
    );
    assert_eq!(
        checksum_of("gs", Some("vJKA38HU5nIz8Tj1u78JUQ==")).as_deref(),
        Some(md5)
    );
    // Multipart uploads, other stores, and a base64 tag where S3 never writes one.
    assert_eq!(
        checksum_of("s3", Some("\"bc9280dfc1d4e67233f138f5bbbf0951-3\"")),
        None
    );
    assert_eq!(
        checksum_of("az", Some("\"bc9280dfc1d4e67233f138f5bbbf0951\"")),
        None
    );
    assert_eq!(
        checksum_of("file", Some("bc9280dfc1d4e67233f138f5bbbf0951")),
        None
    );
    assert_eq!(checksum_of("s3", Some("vJKA38HU5nIz8Tj1u78JUQ==")), None);
}

#[tokio::test]
async fn a_file_rewritten_after_its_listing_is_not_read_as_the_listed_version() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.csv"), "id\n1\n").unwrap();
    let store = local(dir.path());
    let pattern = FilePattern::new("", "*.csv").unwrap();
    let listed = store.list(&pattern).await.unwrap().files[0].clone();
    let hash = store.content_hash(&listed).await.unwrap();
    assert_eq!(hash, "md5:bc9280dfc1d4e67233f138f5bbbf0951");
    std::fs::write(dir.path().join("a.csv"), "id\n1\n2\n").unwrap();
    assert!(store.read_head(&listed, 10).await.unwrap_err().is_changed());
    assert!(store.content_hash(&listed).await.unwrap_err().is_changed());
    let now = store.list(&pattern).await.unwrap().files[0].clone();
    assert_ne!(now.version_key(), listed.version_key());
    assert!(store.content_hash(&now).await.is_ok());
}

#[tokio::test]
async fn pages_list_in_name_order_from_a_start_after_key() {
    let dir = tempfile::tempdir().unwrap();
    for i in 0..5 {
        std::fs::write(dir.path().join(format!("f_{i}.csv")), "x\n").unwrap();
    }
    std::fs::write(dir.path().join("other.txt"), "x\n").unwrap();
    let store = local(dir.path());
    let pattern = FilePattern::new("", "f_*.csv").unwrap();
    let one = store.list_page(&pattern, None, 2).await.unwrap();
    let names = |p: &Page| p.files.iter().map(|f| f.path.clone()).collect::<Vec<_>>();
    assert_eq!(names(&one), vec!["f_0.csv", "f_1.csv"]);
    assert_eq!(one.next.as_deref(), Some("f_1.csv"));
    let two = store
        .list_page(&pattern, one.next.as_deref(), 10)
        .await
        .unwrap();
    assert_eq!(names(&two), vec!["f_2.csv", "f_3.csv", "f_4.csv"]);
    assert_eq!(two.next, None);
}

#[cfg(unix)]
#[tokio::test]
async fn a_local_listing_skips_what_it_cannot_list_with_a_warning() {
    use std::os::unix::ffi::OsStrExt;
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("in/sub")).unwrap();
    std::fs::write(dir.path().join("in/a 1%.csv"), "x\n1\n").unwrap();
    std::fs::write(dir.path().join("in/sub/b.csv"), "x\n2\n").unwrap();
    // A link back up, a link to nothing, a name that is not UTF-8.
    std::os::unix::fs::symlink(dir.path().join("in"), dir.path().join("in/sub/up")).unwrap();
    std::os::unix::fs::symlink(dir.path().join("gone"), dir.path().join("in/dead.csv")).unwrap();
    let bad = std::ffi::OsStr::from_bytes(b"caf\xe9.csv");
    std::fs::write(dir.path().join("in").join(bad), "x\n3\n").unwrap();
    let store = local(dir.path());
    let listing = store
        .list(&FilePattern::new("in", "*.csv").unwrap())
        .await
        .unwrap();
    let mut names: Vec<&str> = listing.files.iter().map(|f| f.path.as_str()).collect();
    names.sort_unstable();
    assert_eq!(names, vec!["in/a 1%.csv", "in/sub/b.csv"]);
    let warnings = listing.warnings.join("\n");
    assert!(warnings.contains("loops back"), "{warnings}");
    assert!(warnings.contains("not UTF-8"), "{warnings}");
    assert!(warnings.contains("does not exist"), "{warnings}");
    // A listed file opens by the name it was listed under, with the same version.
    let listed = listing.files.iter().find(|f| f.path.contains('%')).unwrap();
    let head = store.head(&listed.path).await.unwrap();
    assert_eq!(head.version_key(), listed.version_key());
    assert_eq!(
        store.read_head(listed, 100).await.unwrap().as_ref(),
        b"x\n1\n"
    );
}

#[tokio::test]
async fn a_hidden_folder_is_neither_listed_nor_read() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("data")).unwrap();
    std::fs::write(dir.path().join("data/secret.key"), "k").unwrap();
    std::fs::write(dir.path().join("t.csv"), "x\n1\n").unwrap();
    let store = local(dir.path()).hiding(&dir.path().join("data"));
    let listing = store
        .list(&FilePattern::new("", "*").unwrap())
        .await
        .unwrap();
    let names: Vec<&str> = listing.files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(names, vec!["t.csv"]);
    let err = store.head("data/secret.key").await.unwrap_err();
    assert!(err.to_string().contains("data directory"), "{err}");
    let err = store.head("./data/../data/secret.key").await.unwrap_err();
    assert!(err.to_string().contains("data directory"), "{err}");
}
