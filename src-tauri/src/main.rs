//! Open Assistant Desktop: starts the Tauri shell.

// No console window next to the app on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() {
    oa_desktop_lib::apply_thread_setting();
    oa_desktop_lib::run();
}
