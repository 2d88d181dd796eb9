//! The web interface in a real browser: headless Chromium driven by
//! playwright-core (tests/browser/ui.mjs) against a real server. Screenshots of
//! each step are kept in target/screenshots/.

use crate::common::*;
use std::process::Command;

#[tokio::test]
async fn the_web_interface_works_in_a_real_browser() {
    let server = knowledge_graph_server().await;
    let script = repo("tests/browser/ui.mjs");
    assert!(
        repo("tests/browser/node_modules/playwright-core").exists(),
        "playwright-core is missing: run `bash .ci/setup.sh` (installs it and Debian's chromium)"
    );
    let shots = repo("target/screenshots");
    let _ = std::fs::remove_dir_all(&shots);
    std::fs::create_dir_all(&shots).unwrap();
    let base = server.base.clone();
    let out =
        tokio::task::spawn_blocking(move || Command::new("node").arg(script).arg(base).arg(shots).output().unwrap())
            .await
            .unwrap();
    let report = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    println!("{report}");
    assert!(out.status.success(), "browser test failed:\n{report}");
    assert!(report.contains("ok - no page errors"), "{report}");
}
