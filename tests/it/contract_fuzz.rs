//! Issue 18 part 3: the OpenAPI document is a valid OpenAPI 3.1 document
//! (`openapi-spec-validator`), and Schemathesis, with every one of its checks, finds no
//! failure against a real server, once with a live key and once with a test key. The
//! tools come from PyPI into the virtualenv `scripts/install-deps.sh` makes; a missing
//! tool fails this test (it is never skipped). Bounded in examples and time: about two
//! and a half minutes on two cores.

use crate::support::*;
use std::path::PathBuf;
use std::process::Command;

/// Where `scripts/install-deps.sh` puts the contract tools.
fn tool(name: &str) -> PathBuf {
    let venv = std::env::var_os("PEAKREEL_CONTRACT_VENV").map_or_else(
        || {
            let home = std::env::var_os("HOME").expect("HOME");
            PathBuf::from(home).join(".local/share/peakreel/contract-venv")
        },
        PathBuf::from,
    );
    let path = venv.join("bin").join(name);
    assert!(
        path.is_file(),
        "{} is missing: run scripts/install-deps.sh (it installs schemathesis and openapi-spec-validator)",
        path.display()
    );
    path
}

fn config_file() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("schemathesis.toml")
}

#[tokio::test]
async fn the_document_is_valid_and_schemathesis_finds_nothing() {
    let s = Server::start().await;
    let a = s.account("Max", 1_000_000).await;
    let r = s.get("/openapi.json", None).await;
    assert_eq!(r.status, 200);
    let work = tempfile::tempdir().unwrap();
    let doc = work.path().join("openapi.json");
    std::fs::write(&doc, &r.bytes).unwrap();
    let out = Command::new(tool("openapi-spec-validator"))
        .arg(&doc)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openapi-spec-validator refused the document:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    let operations: usize = r.json["paths"]
        .as_object()
        .unwrap()
        .values()
        .map(|item| item.as_object().unwrap().len())
        .sum();
    let url = s.url("/openapi.json");
    for key in [&a.live.key, &a.test.key] {
        let out = tokio::process::Command::new(tool("schemathesis"))
            .arg("--config-file")
            .arg(config_file())
            .arg("--no-color")
            .arg("run")
            .arg(&url)
            .args(["--checks", "all"])
            .args(["--phases", "examples,coverage,fuzzing"])
            .args(["--max-examples", "25", "--max-time", "70"])
            // One worker: CPython 3.11's AST module is not safe across Hypothesis threads.
            .args(["--workers", "1", "--request-timeout", "30"])
            .arg("-H")
            .arg(format!("Authorization: Bearer {key}"))
            // Hypothesis keeps its example database in the working directory.
            .current_dir(work.path())
            .output()
            .await
            .unwrap();
        let report = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "schemathesis found failures with a {} key:\n{report}\n{}",
            &key[4..8],
            String::from_utf8_lossy(&out.stderr)
        );
        // The run really exercised the API: every operation of the document was tested.
        assert!(
            report.contains(&format!("Tested: {operations}\n")),
            "not every one of the {operations} operations was tested:\n{report}"
        );
    }
    // Nothing the fuzzer sent made the server fail on its side.
    let log = s.log();
    assert!(!log.contains("server-side failure"), "{log}");
}
