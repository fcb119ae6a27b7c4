//! zdd-tfplugin: the tfplugin6 protocol layer (see ARCHITECTURE.md).
