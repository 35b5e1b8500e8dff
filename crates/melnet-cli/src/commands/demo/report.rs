//! The demos' shared report parts: stage timing and the pieces of a self-contained HTML page.

use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result};
use base64::Engine;

/// One stage's name and wall-clock seconds.
pub struct Stage {
    pub name: &'static str,
    pub seconds: f64,
    pub note: String,
}

/// Time `f` as stage `name`.
pub fn timed<T>(
    stages: &mut Vec<Stage>,
    name: &'static str,
    quiet: bool,
    f: impl FnOnce() -> Result<T>,
) -> Result<T> {
    if !quiet {
        eprintln!("== {name}");
    }
    let start = Instant::now();
    let value = f().with_context(|| format!("demo stage {name}"))?;
    stages.push(Stage {
        name,
        seconds: start.elapsed().as_secs_f64(),
        note: String::new(),
    });
    Ok(value)
}

/// `s` with HTML's special characters escaped.
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// `path` as a `data:` URI (the page must open from disk with no other files).
pub fn data_uri(path: &Path, mime: &str) -> Result<String> {
    let bytes = std::fs::read(path).with_context(|| format!("{}: cannot read", path.display()))?;
    Ok(format!(
        "data:{mime};base64,{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    ))
}

/// The page's timing section: a row per stage (name, seconds, note); the page closes the
/// table.
pub fn timing_table(html: &mut String, stages: &[Stage]) {
    html.push_str("<h2>Timing</h2><table><tr><th>stage</th><th>seconds</th><th></th></tr>\n");
    for st in stages {
        html.push_str(&format!(
            "<tr><td>{}</td><td class=\"n\">{:.2}</td><td>{}</td></tr>\n",
            st.name,
            st.seconds,
            escape(&st.note)
        ));
    }
}
