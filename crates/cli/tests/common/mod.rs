//! What the CLI's test files share: starting `jinguan serve` as a user does.

use std::io::BufRead;
use std::process::{Child, Command, Stdio};

/// Spawn `jinguan serve` as `cmd` describes (it must listen on port 0) and wait until it
/// listens: the first line of its output is its URL. Returns the child and the URL without a
/// trailing slash; its further output is drained, so that it never blocks on a full pipe.
pub fn spawn_serve(cmd: &mut Command) -> (Child, String) {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("jinguan serve starts");
    let mut out = std::io::BufReader::new(child.stdout.take().expect("stdout is piped"));
    let mut url = String::new();
    out.read_line(&mut url)
        .expect("jinguan serve prints its URL");
    assert!(
        url.starts_with("http://") || url.starts_with("https://"),
        "the first line is the URL: {url:?}"
    );
    std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
    (child, url.trim().trim_end_matches('/').to_owned())
}
