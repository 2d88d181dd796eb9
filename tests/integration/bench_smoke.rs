//! The benchmark harness's smoke variant: 10k generated triples, both servers
//! (ours and `oxigraph serve` from PyPI) answer every query of the benchmark
//! mix. Keeps benches/ from rotting; asserts no speed.

use crate::common::*;
use std::process::Command;

#[tokio::test]
async fn benchmark_harness_smoke() {
    let oxigraph = repo_may_not_exist("target/bench-venv/bin/oxigraph");
    assert!(oxigraph.exists(), "{} is missing: run `bash .ci/setup.sh`", oxigraph.display());
    let out = tokio::task::spawn_blocking(move || {
        Command::new("python3")
            .arg(repo("benches/run.py"))
            .args(["--smoke", "--treaty-kg", BIN, "--oxigraph"])
            .arg(oxigraph)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let report = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{report}");
    assert!(report.contains("smoke: every benchmark query answered on both servers"), "{report}");
}
