//! Issue #16: filled in by its helper.
