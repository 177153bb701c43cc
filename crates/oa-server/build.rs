//! `sqlx::migrate!` embeds `migrations/` when the crate compiles; without this, adding or editing a
//! migration would not rebuild the server and the binary would carry the old schema.

fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
