//! Terraform's own word on its state lock, read from its output as it passes through the guard.
//!
//! When terraform's release of its lock fails (the lock was removed or replaced under it: a
//! force-unlock), it prints the diagnostic "Error releasing the state lock" (Terraform's
//! `internal/command/clistate`, `locker.Unlock`). Terraform never wraps a diagnostic's summary,
//! so the text is contiguous in every rendering: plain (`-no-color`), coloured (escape codes only
//! around it) and `-json` (the `@message` and `summary` fields, on stdout). A clean release
//! prints nothing. This is what tells "someone removed terraform's lock" from "terraform removed
//! its own lock and then failed for its own reasons", which a watch look cannot (both leave the
//! lock missing and terraform failing).
//! Pure: bytes in, a yes/no out.

/// The summary of Terraform's diagnostic for a failed release of its own lock.
pub const RELEASE_FAILED: &[u8] = b"Error releasing the state lock";

/// Scans one output stream of terraform, chunk by chunk as it arrives (the text may be split
/// across chunks), for [`RELEASE_FAILED`].
#[derive(Debug, Default, Clone)]
pub struct ReleaseReportScan {
    /// The end of the stream so far that could begin the text (shorter than it).
    tail: Vec<u8>,
    found: bool,
}

impl ReleaseReportScan {
    pub fn new() -> ReleaseReportScan {
        ReleaseReportScan::default()
    }

    /// Scans the next bytes of the stream.
    pub fn feed(&mut self, chunk: &[u8]) {
        if self.found {
            return;
        }
        let mut window = std::mem::take(&mut self.tail);
        window.extend_from_slice(chunk);
        if window
            .windows(RELEASE_FAILED.len())
            .any(|w| w == RELEASE_FAILED)
        {
            self.found = true;
            return;
        }
        let keep = window.len().min(RELEASE_FAILED.len() - 1);
        window.drain(..window.len() - keep);
        self.tail = window;
    }

    /// Whether terraform reported that its release of the state lock failed.
    pub fn release_failed(&self) -> bool {
        self.found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scanned(chunks: &[&[u8]]) -> bool {
        let mut scan = ReleaseReportScan::new();
        for chunk in chunks {
            scan.feed(chunk);
        }
        scan.release_failed()
    }

    #[test]
    fn finds_the_report_in_every_rendering() {
        let plain: &[u8] = b"\nError: Error releasing the state lock\n\nError message: failed to \
            retrieve lock info for lock ID \"3f0a\": item not found\n";
        let coloured: &[u8] = b"\x1b[31m\xe2\x95\xb7\x1b[0m\x1b[0m\n\x1b[31m\xe2\x94\x82\x1b[0m \
            \x1b[0m\x1b[1m\x1b[31mError: \x1b[0m\x1b[0m\x1b[1mError releasing the state lock\x1b[0m\n";
        let json: &[u8] = br#"{"@level":"error","@message":"Error: Error releasing the state lock","diagnostic":{"severity":"error","summary":"Error releasing the state lock"}}"#;
        for rendering in [plain, coloured, json] {
            assert!(
                scanned(&[rendering]),
                "{}",
                String::from_utf8_lossy(rendering)
            );
        }
    }

    #[test]
    fn finds_the_report_split_across_chunks_at_every_point() {
        let stream = b"Apply complete!\nError: Error releasing the state lock\n";
        for split in 0..=stream.len() {
            let (first, second) = stream.split_at(split);
            assert!(scanned(&[first, second]), "split at {split}");
        }
        let bytewise: Vec<&[u8]> = stream.chunks(1).collect();
        assert!(scanned(&bytewise), "one byte at a time");
    }

    #[test]
    fn other_failures_are_not_a_failed_release() {
        assert!(!scanned(&[
            b"\nError: local-exec provisioner error\n\n",
            b"Releasing state lock. This may take a few moments...\n",
            b"Error acquiring the state lock\n",
            b"Error releasing the state",
            b" of the plan\n",
        ]));
        assert!(!scanned(&[]));
        assert!(!scanned(&[b"Error releasing the state loc"]), "a prefix");
    }

    #[test]
    fn found_stays_found() {
        let mut scan = ReleaseReportScan::new();
        scan.feed(b"Error releasing the state lock");
        scan.feed(b"more output");
        assert!(scan.release_failed());
    }
}
