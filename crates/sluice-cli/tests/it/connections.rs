//! Connections: credentials never shown, and key rotation.

use crate::{Cli, stderr};

#[test]
fn credentials_never_show_and_rotate_with_a_command() {
    let cli = Cli::new();
    let secret = cli.dir.path().join("aws-secret");
    std::fs::write(&secret, "wJalrXUtnFEMI-SECRET\n").unwrap();
    let opt = format!("secret_access_key=@{}", secret.display());
    cli.ok(&[
        "connections",
        "add",
        "prod",
        "s3://acme-drops/landing",
        "-o",
        "region=eu-west-1",
        "-o",
        "access_key_id=AKIAEXAMPLE",
        "-o",
        &opt,
    ]);
    for args in [
        &["connections", "list"][..],
        &["connections", "show", "prod", "--json"][..],
    ] {
        let out = cli.ok(args);
        assert!(!out.contains("wJalr"), "{out}");
        assert!(out.contains("••••") && out.contains("AKIAEXAMPLE"), "{out}");
    }
    let catalog = std::fs::read(cli.data().join("catalog.db")).unwrap();
    assert!(
        !String::from_utf8_lossy(&catalog).contains("wJalr"),
        "the catalog holds no plain secret"
    );
    let key_before = std::fs::read_to_string(cli.data().join("secret.key")).unwrap();
    let out = cli.ok(&["connections", "rotate-key"]);
    assert!(
        out.contains("re-sealed the credentials of 1 connection(s)"),
        "{out}"
    );
    assert_ne!(
        std::fs::read_to_string(cli.data().join("secret.key")).unwrap(),
        key_before
    );
    // A wrong key is an error naming the connection, not garbage.
    let out = cli
        .cmd(&["files", "prod"])
        .env(
            "SLUICE_SECRET_KEY",
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        )
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("cannot open the secret_access_key of connection 'prod'"),
        "{}",
        stderr(&out)
    );
}

/// A connection to the S3 test server with its own keys, which `connections test` opens.
fn add_s3(cli: &Cli) {
    let endpoint = sluice_testkit::peers::var("SLUICE_S3_ENDPOINT");
    let bucket = sluice_testkit::peers::var("SLUICE_TEST_BUCKET");
    cli.ok(&[
        "connections",
        "add",
        "prod",
        &format!("s3://{bucket}"),
        "-o",
        &format!("endpoint={endpoint}"),
        "-o",
        "allow_http=true",
        "-o",
        "path_style=true",
        "-o",
        "region=us-east-1",
        "-o",
        "access_key_id=testing",
        "-o",
        "secret_access_key=testing",
    ]);
}

#[test]
fn a_rotation_killed_at_any_point_leaves_every_secret_readable() {
    for fault in ["rotate-staged", "rotate-committed"] {
        let cli = Cli::new();
        add_s3(&cli);
        cli.ok(&["connections", "test", "prod"]);
        let killed = cli
            .cmd(&["connections", "rotate-key"])
            .env("SLUICE_FAULT", fault)
            .output()
            .unwrap();
        assert!(!killed.status.success(), "{fault}: not aborted");
        assert!(stderr(&killed).contains(&format!("SLUICE_FAULT: aborting at {fault}")));
        // The next command opens the credentials, with the old key or the new one...
        let out = cli.ok(&["connections", "test", "prod"]);
        assert!(out.contains("connection 'prod' works"), "{fault}: {out}");
        // ...and the key file holds the key they open with, so a rotation can follow.
        let key = std::fs::read_to_string(cli.data().join("secret.key")).unwrap();
        let out = cli
            .cmd(&["connections", "test", "prod"])
            .env("SLUICE_SECRET_KEY", key.trim())
            .output()
            .unwrap();
        assert!(out.status.success(), "{fault}: {}", stderr(&out));
        assert!(
            cli.ok(&["connections", "rotate-key"])
                .contains("1 connection(s)")
        );
        cli.ok(&["connections", "test", "prod"]);
    }
}
