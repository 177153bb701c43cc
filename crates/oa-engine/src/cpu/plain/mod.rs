//! Every kernel as plain loops: what any CPU runs, what defines the results, and what the
//! vectorised kernels are held to.

pub(crate) mod attention;
pub(crate) mod dot;
pub(crate) mod tiles;

use super::Kernels;

/// The table of plain loops.
pub(crate) fn kernels() -> Kernels {
    Kernels {
        dot: dot::kernels(),
        tiles: tiles::kernels(),
        attention: attention::kernels(),
    }
}
