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
        BarProgress {
            multi: MultiProgress::with_draw_target(ProgressDrawTarget::stderr()),
            bars: Mutex::default(),
        }
    }

    /// Prints a line above the bars.
    pub fn println(&self, line: &str) {
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
                    "{prefix:>24.cyan} [{bar:30}] {bytes:>10}/{total_bytes:<10} {bytes_per_sec}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            ),
            None => ProgressBar::new_spinner().with_style(
                ProgressStyle::with_template("{prefix:>24.cyan} {spinner} {bytes}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            ),
        };
        let short: String = label
            .chars()
            .rev()
            .take(24)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        bar.set_prefix(short);
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
        self.println(&format!("warning: {message}"));
    }

    fn note(&self, message: &str) {
        self.println(message);
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
