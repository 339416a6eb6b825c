//! Loading BuildStream-format projects.
