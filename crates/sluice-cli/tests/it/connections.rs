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
