//! Builds the front end (web/, npm + esbuild) into web/dist before the crate embeds it.
//!
//! `npm ci` runs only when web/node_modules is missing or older than the lockfile; the esbuild
//! step takes about a second. Set `DOTHI_SKIP_WEB_BUILD=1` to embed an existing web/dist as it
//! is (for example when Node.js is not installed and web/dist was built elsewhere).

use std::path::Path;
use std::process::Command;

fn main() {
    let web = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../web");
    for watched in ["src", "build.mjs", "package.json", "package-lock.json"] {
        println!("cargo:rerun-if-changed={}", web.join(watched).display());
    }
    println!("cargo:rerun-if-env-changed=DOTHI_SKIP_WEB_BUILD");
    if std::env::var_os("DOTHI_SKIP_WEB_BUILD").is_some_and(|v| v == "1") {
        assert!(
            web.join("dist/app.js").exists(),
            "DOTHI_SKIP_WEB_BUILD=1 but web/dist/app.js does not exist"
        );
        return;
    }
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    let lock = modified(&web.join("package-lock.json"));
    let installed = modified(&web.join("node_modules/.package-lock.json"));
    if installed.is_none() || installed < lock {
        run(
            Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund"])
                .current_dir(&web),
            "npm ci",
        );
    }
    run(
        Command::new("node").arg("build.mjs").current_dir(&web),
        "node build.mjs",
    );
}

fn run(cmd: &mut Command, what: &str) {
    match cmd.status() {
        Ok(s) if s.success() => {}
        Ok(s) => panic!("{what} failed in web/ ({s}); the front end needs Node.js 20+ and npm"),
        Err(e) => {
            panic!("could not start {what} in web/: {e}; the front end needs Node.js 20+ and npm")
        }
    }
}
