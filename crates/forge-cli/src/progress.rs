//! Progress bars on the terminal (nothing when stderr is not one).

use std::sync::Mutex;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use forge_sources::Progress;

/// One bar per running download.
pub struct BarProgress {
    multi: MultiProgress,
    bars: Mutex<Vec<Option<ProgressBar>>>,
}

impl BarProgress {
    /// Bars on stderr, hidden when it is not a terminal.
    pub fn new() -> BarProgress {
        let target = if crate::output::quiet() {
            ProgressDrawTarget::hidden()
        } else {
            ProgressDrawTarget::stderr()
        };
        BarProgress {
            multi: MultiProgress::with_draw_target(target),
            bars: Mutex::default(),
        }
    }

    /// Prints a line above the bars (not with `-q`).
    pub fn println(&self, line: &str) {
        if crate::output::quiet() {
            return;
        }
        self.say(line);
    }

    fn say(&self, line: &str) {
        if self.multi.is_hidden() {
            eprintln!("{line}");
        } else {
            let _ = self.multi.println(line);
        }
    }
}

impl Progress for BarProgress {
    fn start(&self, label: &str, _url: &str, total: Option<u64>) -> usize {
        let bar = match total {
            Some(total) => ProgressBar::new(total).with_style(
                ProgressStyle::with_template(
                    "{prefix:>32.cyan} [{bar:24}] {bytes:>10}/{total_bytes:<10} {bytes_per_sec}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            ),
            None => ProgressBar::new_spinner().with_style(
                ProgressStyle::with_template("{prefix:>32.cyan} {spinner} {bytes}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            ),
        };
        bar.set_prefix(short_label(label));
        let bar = self.multi.add(bar);
        let mut bars = self.bars.lock().unwrap_or_else(|e| e.into_inner());
        bars.push(Some(bar));
        bars.len() - 1
    }

    fn advance(&self, id: usize, bytes: u64) {
        if let Some(Some(bar)) = self.bars.lock().unwrap_or_else(|e| e.into_inner()).get(id) {
            bar.set_position(bytes);
        }
    }

    fn warn(&self, message: &str) {
        self.say(&format!(
            "{} {}",
            crate::output::tag("warning:", crate::output::Tone::Warn),
            crate::exit::printable(message)
        ));
    }

    fn note(&self, message: &str) {
        self.println(&crate::exit::printable(message));
    }

    fn detail(&self, message: &str) {
        if crate::output::verbose() {
            self.say(&crate::output::tag(
                &crate::exit::printable(message),
                crate::output::Tone::Dim,
            ));
        }
    }

    fn finish(&self, id: usize) {
        if let Some(slot) = self.bars.lock().unwrap_or_else(|e| e.into_inner()).get_mut(id)
            && let Some(bar) = slot.take()
        {
            bar.finish_and_clear();
            self.multi.remove(&bar);
        }
    }
}

/// A file name for a 32-column bar: as it is when it fits, else its start
/// (the package's name) and its end (version tags, extension) around `…`;
/// control characters escaped.
fn short_label(label: &str) -> String {
    let label = forge_project::error::printable_line(label);
    let chars: Vec<char> = label.chars().collect();
    if chars.len() <= 32 {
        return label;
    }
    let head: String = chars[..20].iter().collect();
    let tail: String = chars[chars.len() - 11..].iter().collect();
    format!("{head}…{tail}")
}

#[cfg(test)]
mod tests {
    use super::short_label;

    #[test]
    fn long_names_keep_their_start_and_end() {
        assert_eq!(
            short_label("click-8.5.1-py3-none-any.whl"),
            "click-8.5.1-py3-none-any.whl"
        );
        assert_eq!(
            short_label("numpy-2.2.6-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"),
            "numpy-2.2.6-cp311-cp…_x86_64.whl"
        );
        assert_eq!(short_label("a\x1b[2Jb"), "a\\u{1b}[2Jb");
    }
}
