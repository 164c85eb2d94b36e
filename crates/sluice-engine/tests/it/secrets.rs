//! Credentials are sealed at rest, never shown, and a wrong key is a clear error.

use std::collections::BTreeMap;
use std::sync::Arc;

use sluice_core::secret::{KeySource, SecretKey};
use sluice_core::storage::config::REDACTED;
use sluice_engine::Engine;
use sluice_engine::catalog::ConnectionCatalog;
use sluice_engine::catalog::sqlite::SqliteCatalog;

fn s3_options() -> BTreeMap<String, String> {
    [
        ("region", "eu-west-1"),
        ("access_key_id", "AKIAEXAMPLEKEY"),
        ("secret_access_key", "wJalrXUtnFEMI-K7MDENG-bPxRfiCY"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

async fn engine_with(dir: &std::path::Path, key: SecretKey) -> (Engine, Arc<SqliteCatalog>) {
    let catalog = Arc::new(SqliteCatalog::open(&dir.join("catalog.db")).await.unwrap());
    (Engine::with_catalog(catalog.clone(), dir, key), catalog)
}

#[tokio::test]
async fn credentials_are_sealed_in_the_catalog_and_redacted_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    let key = SecretKey::generate(KeySource::Env);
    let (engine, catalog) = engine_with(dir.path(), key).await;
    let added = engine
        .add_connection_url("prod", "s3://drops/landing", &s3_options())
        .await
        .unwrap();
    let shown = serde_json::to_string(&added).unwrap();
    assert!(
        shown.contains(REDACTED) && !shown.contains("wJalr"),
        "{shown}"
    );
    assert!(
        shown.contains("AKIAEXAMPLEKEY"),
        "the key id is not a secret: {shown}"
    );
    for listed in [
        engine.connections().await.unwrap()[0].clone(),
        engine.connection("prod").await.unwrap(),
    ] {
        assert!(!serde_json::to_string(&listed).unwrap().contains("wJalr"));
    }
    // At rest: sealed, not plain.
    let stored = serde_json::to_string(&catalog.connection("prod").await.unwrap()).unwrap();
    assert!(
        !stored.contains("wJalr") && stored.contains("v1:"),
        "{stored}"
    );
    // The engine can still open it.
    engine.store("prod").await.unwrap();
}

#[tokio::test]
async fn a_wrong_key_names_the_connection_and_never_yields_garbage() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, _) = engine_with(dir.path(), SecretKey::generate(KeySource::Env)).await;
    engine
        .add_connection_url("prod", "s3://drops", &s3_options())
        .await
        .unwrap();
    drop(engine);
    let (other, _) = engine_with(dir.path(), SecretKey::generate(KeySource::Env)).await;
    let err = other.store("prod").await.unwrap_err().to_string();
    assert!(
        err.contains("cannot open the secret_access_key of connection 'prod'"),
        "{err}"
    );
    assert!(err.contains("$SLUICE_SECRET_KEY"), "{err}");
    // Listing still works: it needs no secret.
    assert_eq!(other.connections().await.unwrap().len(), 1);
}

#[tokio::test]
async fn rotating_the_key_reseals_every_connection() {
    let dir = tempfile::tempdir().unwrap();
    let old = SecretKey::generate(KeySource::File(dir.path().join("secret.key")));
    old.write_file(&dir.path().join("secret.key")).unwrap();
    let (engine, catalog) = engine_with(dir.path(), old.clone()).await;
    engine
        .add_connection_url("a", "s3://drops", &s3_options())
        .await
        .unwrap();
    engine
        .add_connection_url("b", "s3://other-drops", &s3_options())
        .await
        .unwrap();
    let before = catalog.connection("a").await.unwrap();
    let rotation = engine.rotate_secret_key().await.unwrap();
    let new = rotation.key;
    assert_eq!(rotation.connections, 2);
    assert_ne!(new.to_text(), old.to_text());
    let on_disk = std::fs::read_to_string(dir.path().join("secret.key")).unwrap();
    assert_eq!(on_disk.trim(), new.to_text());
    assert!(!dir.path().join("secret.key.new").exists());
    assert_ne!(catalog.connection("a").await.unwrap().config, before.config);
    engine.store("a").await.unwrap();
    // A fresh engine with the new key opens them; the old key does not.
    let (fresh, _) = engine_with(dir.path(), new).await;
    fresh.store("b").await.unwrap();
    // The old key alone (from SLUICE_SECRET_KEY, with no key file to fall back on) does not.
    let old = SecretKey::from_text(&old.to_text(), KeySource::Env).unwrap();
    let (stale, _) = engine_with(dir.path(), old).await;
    assert!(stale.store("b").await.is_err());
}

#[tokio::test]
async fn invalid_settings_are_reported_per_field() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, _) = engine_with(dir.path(), SecretKey::generate(KeySource::Env)).await;
    let mut options = s3_options();
    options.remove("secret_access_key");
    let err = engine
        .add_connection_url("prod", "s3://Bad_Bucket", &options)
        .await
        .unwrap_err();
    let sluice_engine::Error::InvalidFields(fields) = &err else {
        panic!("{err:?}")
    };
    let names: Vec<&str> = fields.iter().map(|f| f.field.as_str()).collect();
    assert_eq!(names, vec!["bucket", "secret_access_key"]);
}

#[tokio::test]
async fn an_edit_that_keeps_the_redacted_secret_keeps_the_secret() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, _) = engine_with(dir.path(), SecretKey::generate(KeySource::Env)).await;
    let added = engine
        .add_connection_url("prod", "s3://drops", &s3_options())
        .await
        .unwrap();
    let mut edited = added.config.clone();
    if let sluice_core::storage::ConnectionConfig::S3(c) = &mut edited {
        c.region = Some("us-east-2".into());
    }
    let updated = engine.update_connection("prod", edited).await.unwrap();
    assert!(
        serde_json::to_string(&updated)
            .unwrap()
            .contains("us-east-2")
    );
    engine.store("prod").await.unwrap();
}

#[tokio::test]
async fn a_running_process_picks_up_a_key_rotated_by_another() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("secret.key");
    let old = SecretKey::generate(KeySource::File(path.clone()));
    old.write_file(&path).unwrap();
    // `serve`, holding the old key in memory...
    let (serving, _) = engine_with(dir.path(), old.clone()).await;
    serving
        .add_connection_url("a", "s3://drops", &s3_options())
        .await
        .unwrap();
    // ...while `sluice connections rotate-key` runs in another process.
    let (rotating, _) = engine_with(dir.path(), old.clone()).await;
    let new = rotating.rotate_secret_key().await.unwrap().key;
    serving
        .store("a")
        .await
        .expect("opens with the rotated key");
    // What it seals from now on is sealed with the new key.
    serving
        .add_connection_url("b", "s3://other", &s3_options())
        .await
        .unwrap();
    let (fresh, _) = engine_with(dir.path(), new).await;
    fresh.store("a").await.unwrap();
    fresh.store("b").await.unwrap();
}

#[tokio::test]
async fn a_rotation_that_stopped_after_the_catalog_changed_is_finished_at_the_next_start() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path()).await.unwrap();
    engine
        .add_connection_url("a", "s3://drops", &s3_options())
        .await
        .unwrap();
    let rotation = engine.rotate_secret_key().await.unwrap();
    drop(engine);
    // As a crash between the commit and the rename leaves it: the old key in secret.key,
    // the new one (which the catalog is sealed with) staged.
    let path = dir.path().join("secret.key");
    let staged = dir.path().join("secret.key.new");
    std::fs::rename(&path, &staged).unwrap();
    let old = SecretKey::generate(KeySource::File(path.clone()));
    old.write_file(&path).unwrap();
    let engine = Engine::open(dir.path()).await.unwrap();
    engine.store("a").await.expect("the staged key opens it");
    assert_eq!(
        std::fs::read_to_string(&path).unwrap().trim(),
        rotation.key.to_text(),
        "the rotation was finished"
    );
    assert!(!staged.exists());
    // A rotation that stopped before the catalog changed leaves a stale staged key, harmless.
    SecretKey::generate(KeySource::File(staged.clone()))
        .write_file(&staged)
        .unwrap();
    let engine = Engine::open(dir.path()).await.unwrap();
    engine.store("a").await.unwrap();
    assert_eq!(
        std::fs::read_to_string(&path).unwrap().trim(),
        rotation.key.to_text()
    );
}
