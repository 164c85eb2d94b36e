//! What callers of the server may reach on its machine: local folders inside the roots the
//! operator allows, never the data directory, DuckDB files inside the data directory.

use axum::http::StatusCode;
use serde_json::json;
use sluice_engine::access::LocalAccess;

use crate::{Api, assert_error};

/// An API confined as `sluice serve --local-root <dir>/drop` confines it.
async fn confined() -> Api {
    Api::with_engine(sluice_web::Access::open(), |engine, dir| {
        engine.confine(LocalAccess {
            local_roots: vec![dir.join("drop")],
            duckdb_roots: vec![],
        });
    })
    .await
}

#[tokio::test]
async fn local_connections_through_the_api_stay_inside_the_allowed_folders() {
    let api = confined().await;
    let root = api.dir.path().to_path_buf();
    std::fs::create_dir_all(root.join("drop/in")).unwrap();
    for outside in [
        "/".into(),
        "/etc".into(),
        root.display().to_string(),
        format!("{}/drop/../data", root.display()),
    ] {
        let (status, body) = api
            .post(
                "/api/connections",
                json!({"name": "root", "provider": "local", "path": outside}),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{outside}: {body}");
        assert_eq!(body["details"]["fields"][0]["field"], "path", "{body}");
        let message = body["message"].as_str().unwrap();
        assert!(
            message.contains("--local-root") || message.contains("data directory"),
            "{body}"
        );
    }
    // A link inside the allowed folder that leads out of it is outside too.
    std::os::unix::fs::symlink("/etc", root.join("drop/etc")).unwrap();
    let (status, body) = api
        .post(
            "/api/connections",
            json!({"name": "etc", "provider": "local", "path": root.join("drop/etc")}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, body) = api
        .post(
            "/api/connections",
            json!({"name": "inside", "provider": "local", "path": root.join("drop/in")}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    // Nor can an edit move it out.
    let (status, body) = api
        .call(
            "PUT",
            "/api/connections/inside",
            Some(json!({"provider": "local", "path": "/"})),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
}

#[tokio::test]
async fn the_data_directory_is_never_read_through_a_connection() {
    // Unconfined, as for a connection the operator added with the CLI at a folder that
    // holds the data directory.
    let api = Api::new(None).await;
    let root = api.dir.path().to_path_buf();
    std::fs::write(root.join("drop/t_1.csv"), "id\n1\n").unwrap();
    std::os::unix::fs::symlink(root.join("data/secret.key"), root.join("drop/key.csv")).unwrap();
    std::os::unix::fs::symlink(root.join("data"), root.join("drop/data-link")).unwrap();
    let (status, body) = api
        .post(
            "/api/connections",
            json!({"name": "all", "provider": "local", "path": root}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = api.get("/api/connections/all/list-files?pattern=*").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let names: Vec<&str> = body["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["drop/t_1.csv"], "{body}");
    for path in [
        "data/secret.key",
        "drop/key.csv",
        "drop/data-link/catalog.db",
    ] {
        let (status, body) = api
            .post(
                "/api/connections/all/detect-file-schema",
                json!({"file_path": path, "file_format": "csv"}),
            )
            .await;
        assert!(status.is_client_error(), "{path}: {body}");
        assert!(
            body["message"].as_str().unwrap().contains("data directory"),
            "{path}: {body}"
        );
        assert!(!body.to_string().contains("sample"), "{body}");
    }
    // A connection inside the data directory is refused outright.
    let (status, body) = api
        .post(
            "/api/connections",
            json!({"name": "data", "provider": "local", "path": root.join("data")}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("secret key"),
        "{body}"
    );
}

#[tokio::test]
async fn duckdb_files_named_through_the_api_stay_in_the_data_directory() {
    let api = confined().await;
    let outside = api.dir.path().join("elsewhere.duckdb");
    for destination in [
        json!({"kind": "duckdb", "path": outside}),
        json!({"kind": "duckdb", "path": "../../escape.duckdb"}),
    ] {
        let (status, body) = api
            .post(
                "/api/destinations/test",
                json!({"destination": destination}),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_error(&body, "invalid");
        assert_eq!(body["details"]["fields"][0]["field"], "destination.path");
        assert!(!outside.exists());
    }
    let (status, body) = api
        .post(
            "/api/destinations/test",
            json!({"destination": {"kind": "duckdb", "path": "mine.duckdb"}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}
